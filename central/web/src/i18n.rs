//! The dashboard's words, Vietnamese first, English second.

/// A display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Tiếng Việt (the default).
    Vi,
    /// English.
    En,
}

impl Lang {
    /// From a code such as `en`; anything else is Vietnamese.
    pub fn from_code(code: &str) -> Lang {
        if code.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Vi
        }
    }

    /// The code (`vi` or `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The other language.
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// Translates a key; an unknown key shows itself.
    pub fn t(self, key: &str) -> &'static str {
        let (vi, en) = words(key);
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

fn words(key: &str) -> (&'static str, &'static str) {
    match key {
        "app" => ("Rông · Quản trị", "Rông · Admin"),
        "login" => ("Đăng nhập", "Log in"),
        "logout" => ("Đăng xuất", "Log out"),
        "user" => ("Tên đăng nhập", "User name"),
        "password" => ("Mật khẩu", "Password"),
        "bad_login" => (
            "Sai tên đăng nhập hoặc mật khẩu.",
            "Wrong user name or password.",
        ),
        "too_many" => (
            "Quá nhiều lần thử. Vui lòng thử lại sau.",
            "Too many attempts. Please try again later.",
        ),
        "expired" => (
            "Phiên đã hết hạn, vui lòng đăng nhập lại.",
            "Your session has expired; please log in again.",
        ),
        "devices" => ("Thiết bị", "Devices"),
        "alerts" => ("Cảnh báo", "Alerts"),
        "stats" => ("Thống kê", "Statistics"),
        "report" => ("Báo cáo năm", "Yearly report"),
        "digitise" => ("Số hoá", "Digitisation"),
        "device" => ("Thiết bị", "Device"),
        "branch" => ("Chi nhánh", "Branch"),
        "all" => ("Tất cả", "All"),
        "state" => ("Trạng thái", "State"),
        "filter" => ("Lọc", "Filter"),
        "online" => ("Trực tuyến", "Online"),
        "offline" => ("Mất kết nối", "Offline"),
        "stale" => ("Im lặng", "Stale"),
        "unknown" => ("Chưa rõ", "Unknown"),
        "last_seen" => ("Lần cuối", "Last seen"),
        "version" => ("Phiên bản", "Version"),
        "outbox" => ("Chờ gửi", "Outbox"),
        "oldest" => ("Sự kiện cũ nhất", "Oldest unsynced"),
        "lag" => ("Trễ danh mục", "Catalogue lag"),
        "disk" => ("Đĩa trống", "Free disk"),
        "temp" => ("Nhiệt độ", "Temperature"),
        "hardware" => ("Phần cứng", "Hardware"),
        "live" => ("Cập nhật trực tiếp", "Live"),
        "count_devices" => ("thiết bị", "devices"),
        "timeline" => ("Lịch sử trạng thái", "Status timeline"),
        "last_24h" => ("24 giờ qua", "last 24 hours"),
        "received" => ("Nhận lúc", "Received"),
        "commands" => ("Lệnh", "Commands"),
        "sync_now" => ("Đồng bộ ngay", "Sync now"),
        "reload_config" => ("Nạp lại cấu hình", "Reload config"),
        "show_message" => ("Hiện thông báo", "Show a message"),
        "message" => ("Nội dung", "Message"),
        "seconds" => ("Số giây", "Seconds"),
        "send" => ("Gửi", "Send"),
        "sent" => ("Gửi lúc", "Sent"),
        "reply" => ("Trả lời", "Reply"),
        "waiting" => ("Đang chờ…", "Waiting…"),
        "command" => ("Lệnh", "Command"),
        "ok" => ("Thành công", "Done"),
        "failed" => ("Thất bại", "Failed"),
        "open_alerts" => ("Cảnh báo đang mở", "Open alerts"),
        "notices" => ("Xung đột lưu thông", "Circulation notices"),
        "history" => ("Đã xử lý gần đây", "Recently handled"),
        "kind" => ("Loại", "Kind"),
        "detail" => ("Chi tiết", "Detail"),
        "raised" => ("Phát sinh", "Raised"),
        "cleared" => ("Đã hết", "Cleared"),
        "ack" => ("Xác nhận", "Acknowledge"),
        "acked_by" => ("Xác nhận bởi", "Acknowledged by"),
        "when" => ("Lúc", "When"),
        "none" => ("Không có.", "None."),
        "alert_offline" => ("Mất kết nối quá lâu", "Offline too long"),
        "alert_unsynced" => ("Sự kiện chưa đồng bộ quá lâu", "Unsynced event too old"),
        "alert_hardware_missing" => ("Thiếu phần cứng", "Hardware missing"),
        "alert_low_disk" => ("Sắp hết dung lượng đĩa", "Low disk"),
        "missed_return" => ("Trả sách bị bỏ sót", "Missed return"),
        "over_limit" => ("Vượt hạn mức mượn", "Over the loan limit"),
        "blocked_patron_loan" => ("Bạn đọc bị khoá đã mượn", "Loan by a blocked patron"),
        "unknown_item" => ("Tài liệu không rõ", "Unknown item"),
        "unknown_patron" => ("Bạn đọc không rõ", "Unknown patron"),
        "clock_corrected" => ("Đã sửa giờ thiết bị", "Device clock corrected"),
        "renew_without_loan" => ("Gia hạn khi không có lượt mượn", "Renewal without a loan"),
        "item" => ("Tài liệu", "Item"),
        "patron" => ("Bạn đọc", "Patron"),
        "from" => ("Từ ngày", "From"),
        "to" => ("Đến ngày", "To"),
        "by_day" => ("Theo ngày", "By day"),
        "by_month" => ("Theo tháng", "By month"),
        "period" => ("Kỳ", "Period"),
        "loans" => ("Lượt mượn", "Loans"),
        "returns" => ("Lượt trả", "Returns"),
        "renewals" => ("Gia hạn", "Renewals"),
        "visits" => ("Lượt bạn đọc", "Visits"),
        "top_titles" => ("Tài liệu được mượn nhiều nhất", "Top titles"),
        "title" => ("Nhan đề", "Title"),
        "csv" => ("Tải CSV", "Download CSV"),
        "total" => ("Tổng", "Total"),
        "year" => ("Năm", "Year"),
        "previous" => ("Năm trước", "Previous year"),
        "change" => ("Thay đổi", "Change"),
        "circulation" => (
            "Lưu thông (mượn + trả + gia hạn)",
            "Circulation (loans + returns + renewals)",
        ),
        "show" => ("Xem", "Show"),
        "forbidden" => (
            "Bạn không có quyền xem trang này.",
            "You may not see this page.",
        ),
        "not_found" => ("Không tìm thấy.", "Not found."),
        "error" => ("Lỗi", "Error"),
        "back" => ("Quay lại", "Back"),
        "lang_name" => ("English", "Tiếng Việt"),
        _ => ("?", "?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_first() {
        assert_eq!(Lang::from_code("xx"), Lang::Vi);
        assert_eq!(Lang::from_code("EN"), Lang::En);
        assert_eq!(Lang::Vi.t("devices"), "Thiết bị");
        assert_eq!(Lang::En.t("devices"), "Devices");
        assert_eq!(Lang::En.t("no such key"), "?");
    }
}
