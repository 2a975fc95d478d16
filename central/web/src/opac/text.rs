//! The catalogue's words, in Vietnamese and English (the language itself is the
//! dashboard's [`Lang`]).

pub use crate::i18n::Lang;

/// Every fixed text on the catalogue's pages.
#[derive(Debug)]
pub struct Texts {
    pub catalogue: &'static str,
    pub search_label: &'static str,
    pub placeholder: &'static str,
    pub search_button: &'static str,
    pub hint: &'static str,
    pub results_for: &'static str,
    pub no_results: &'static str,
    pub no_results_hint: &'static str,
    pub author: &'static str,
    pub subjects: &'static str,
    pub publisher: &'static str,
    pub year: &'static str,
    pub isbn: &'static str,
    pub call_number: &'static str,
    pub copies_heading: &'static str,
    pub library: &'static str,
    pub shelf: &'static str,
    pub status: &'static str,
    pub on_shelf: &'static str,
    pub on_loan_until: &'static str,
    pub reference_only: &'static str,
    pub no_copies: &'static str,
    pub available_of: &'static str,
    pub copies: &'static str,
    pub more: &'static str,
    pub back: &'static str,
    pub switch_to: &'static str,
    pub no_record: &'static str,
    pub unavailable: &'static str,
}

const VI: Texts = Texts {
    catalogue: "Tra cứu sách",
    search_label: "Tìm sách",
    placeholder: "Nhan đề, tác giả, chủ đề, ISBN, ký hiệu…",
    search_button: "Tìm",
    hint: "Gõ không dấu cũng được: \u{201c}dia chi kon tum\u{201d} tìm ra \u{201c}Địa chí Kon Tum\u{201d}.",
    results_for: "kết quả cho",
    no_results: "Không tìm thấy sách nào.",
    no_results_hint: "Hãy thử ít từ hơn, hoặc tìm theo tác giả, chủ đề.",
    author: "Tác giả",
    subjects: "Chủ đề",
    publisher: "Nhà xuất bản",
    year: "Năm xuất bản",
    isbn: "ISBN",
    call_number: "Ký hiệu xếp giá",
    copies_heading: "Bản sách tại các thư viện",
    library: "Thư viện",
    shelf: "Vị trí",
    status: "Tình trạng",
    on_shelf: "Có trên giá",
    on_loan_until: "Đang cho mượn, hạn trả",
    reference_only: "Chỉ đọc tại chỗ",
    no_copies: "Thư viện hiện không có bản nào để phục vụ.",
    available_of: "còn",
    copies: "bản",
    more: "Xem thêm kết quả",
    back: "Tìm sách khác",
    switch_to: "English",
    no_record: "Không có sách này trong mục lục.",
    unavailable: "Mục lục tạm thời không trả lời được. Xin thử lại sau ít phút.",
};

const EN: Texts = Texts {
    catalogue: "Library catalogue",
    search_label: "Find a book",
    placeholder: "Title, author, subject, ISBN, call number…",
    search_button: "Search",
    hint: "Diacritics are optional: \u{201c}dia chi kon tum\u{201d} finds \u{201c}Địa chí Kon Tum\u{201d}.",
    results_for: "results for",
    no_results: "No books found.",
    no_results_hint: "Try fewer words, or search by author or subject.",
    author: "Author",
    subjects: "Subjects",
    publisher: "Publisher",
    year: "Year",
    isbn: "ISBN",
    call_number: "Call number",
    copies_heading: "Copies in the libraries",
    library: "Library",
    shelf: "Location",
    status: "Status",
    on_shelf: "On the shelf",
    on_loan_until: "On loan, due",
    reference_only: "Reading room only",
    no_copies: "No copy is currently available for readers.",
    available_of: "available of",
    copies: "copies",
    more: "More results",
    back: "New search",
    switch_to: "Tiếng Việt",
    no_record: "This record is not in the catalogue.",
    unavailable: "The catalogue cannot answer right now. Please try again in a few minutes.",
};

/// `vi` or `en`; anything else is not a language choice.
pub fn parse(s: &str) -> Option<Lang> {
    matches!(s.trim(), "vi" | "en").then(|| Lang::from_code(s.trim()))
}

/// The texts of a language.
pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}
