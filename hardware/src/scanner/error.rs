//! Scanner failures, with messages for library staff in English and Vietnamese.

use crate::ErrorKind;

/// The language of a staff message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// English.
    En,
    /// Vietnamese.
    Vi,
}

/// A document scanner failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// Paper is jammed in the document feeder.
    #[error("document feeder jammed")]
    Jammed,
    /// The document feeder is empty (or the glass has nothing to scan, for some models).
    #[error("no documents in the feeder")]
    NoDocuments,
    /// The scanner cover or feeder hatch is open.
    #[error("scanner cover open")]
    CoverOpen,
    /// The scanner is in use (another program, or a scan still running).
    #[error("scanner busy")]
    Busy,
    /// The lamp is warming up.
    #[error("scanner warming up")]
    WarmingUp,
    /// The scan head's transport lock is on.
    #[error("scanner transport lock on")]
    Locked,
    /// The scanner refused an option or a value; the text names it.
    #[error("invalid scanner option: {0}")]
    InvalidOption(String),
    /// The device is not there: unplugged, never plugged, or no device opened yet.
    #[error("scanner not found: {0}")]
    DeviceGone(String),
    /// The operating system refused access (permissions, udev rules).
    #[error("access to the scanner denied")]
    AccessDenied,
    /// The scan was cancelled.
    #[error("scan cancelled")]
    Cancelled,
    /// The scanner or driver cannot do what was asked.
    #[error("not supported by the scanner: {0}")]
    Unsupported(String),
    /// An I/O failure talking to the device, or another driver error.
    #[error("scanner I/O error: {0}")]
    Io(String),
}

impl ScanError {
    /// What kind of failure this is: `NotReady` means a person must act at the scanner.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ScanError::Jammed
            | ScanError::NoDocuments
            | ScanError::CoverOpen
            | ScanError::Busy
            | ScanError::WarmingUp
            | ScanError::Locked => ErrorKind::NotReady,
            ScanError::DeviceGone(_) => ErrorKind::Disconnected,
            ScanError::InvalidOption(_)
            | ScanError::AccessDenied
            | ScanError::Cancelled
            | ScanError::Unsupported(_)
            | ScanError::Io(_) => ErrorKind::Io,
        }
    }

    /// The error for a SANE status code (`SANE_Status`), or `None` for `SANE_STATUS_GOOD`
    /// and `SANE_STATUS_EOF`, which are not failures. `what` says what was being done, for
    /// the statuses whose text needs it.
    pub fn from_sane_status(status: i32, what: &str) -> Option<ScanError> {
        Some(match status {
            0 | 5 => return None,
            1 => ScanError::Unsupported(what.to_owned()),
            2 => ScanError::Cancelled,
            3 => ScanError::Busy,
            4 => ScanError::InvalidOption(what.to_owned()),
            6 => ScanError::Jammed,
            7 => ScanError::NoDocuments,
            8 => ScanError::CoverOpen,
            9 => ScanError::Io(what.to_owned()),
            10 => ScanError::Io(format!("{what}: out of memory")),
            11 => ScanError::AccessDenied,
            12 => ScanError::WarmingUp,
            13 => ScanError::Locked,
            other => ScanError::Io(format!("{what}: unknown SANE status {other}")),
        })
    }

    /// A short message for library staff at the scanner: what happened and what to do.
    pub fn staff_message(&self, lang: Language) -> String {
        let detail = match self {
            ScanError::InvalidOption(d)
            | ScanError::DeviceGone(d)
            | ScanError::Unsupported(d)
            | ScanError::Io(d) => d.as_str(),
            _ => "",
        };
        let (en, vi) = match self {
            ScanError::Jammed => (
                "Paper is jammed in the document feeder. Open the feeder, remove the stuck \
                 sheet, then scan the remaining pages again. Pages already scanned are kept.",
                "Giấy bị kẹt trong khay nạp tài liệu. Mở khay, gỡ tờ giấy bị kẹt, rồi quét \
                 lại các trang còn lại. Các trang đã quét vẫn được giữ.",
            ),
            ScanError::NoDocuments => (
                "The document feeder is empty. Load the pages and try again.",
                "Khay nạp không có tài liệu. Đặt các trang vào khay rồi thử lại.",
            ),
            ScanError::CoverOpen => (
                "The scanner cover is open. Close it and try again.",
                "Nắp máy quét đang mở. Đóng nắp rồi thử lại.",
            ),
            ScanError::Busy => (
                "The scanner is busy (another program may be using it). Wait a moment and \
                 try again.",
                "Máy quét đang bận (có thể chương trình khác đang dùng). Đợi một lát rồi \
                 thử lại.",
            ),
            ScanError::WarmingUp => (
                "The scanner lamp is warming up. Wait a moment and try again.",
                "Đèn máy quét đang khởi động. Đợi một lát rồi thử lại.",
            ),
            ScanError::Locked => (
                "The scanner's transport lock is on. Unlock it and try again.",
                "Máy quét đang khoá vận chuyển. Mở khoá rồi thử lại.",
            ),
            ScanError::InvalidOption(_) => (
                "This scanner does not accept that setting. Choose another value.",
                "Máy quét không chấp nhận thiết lập này. Hãy chọn giá trị khác.",
            ),
            ScanError::DeviceGone(_) => (
                "The scanner is not connected. Check its USB cable and power, then try again.",
                "Không tìm thấy máy quét. Kiểm tra cáp USB và nguồn điện, rồi thử lại.",
            ),
            ScanError::AccessDenied => (
                "The computer may not use the scanner (permissions). Ask the technician to \
                 check the udev rules.",
                "Máy tính không có quyền dùng máy quét. Nhờ kỹ thuật viên kiểm tra quyền \
                 truy cập (udev).",
            ),
            ScanError::Cancelled => ("The scan was cancelled.", "Lượt quét đã bị huỷ."),
            ScanError::Unsupported(_) => (
                "The scanner cannot do this.",
                "Máy quét không hỗ trợ thao tác này.",
            ),
            ScanError::Io(_) => (
                "The scanner stopped responding (I/O error). Check its cable and power, \
                 then try again.",
                "Máy quét không phản hồi (lỗi vào/ra). Kiểm tra cáp và nguồn điện, rồi \
                 thử lại.",
            ),
        };
        let text = match lang {
            Language::En => en,
            Language::Vi => vi,
        };
        if detail.is_empty() {
            text.to_owned()
        } else {
            format!("{text} ({detail})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_statuses_map_to_errors_with_kinds() {
        assert_eq!(ScanError::from_sane_status(0, "read"), None);
        assert_eq!(ScanError::from_sane_status(5, "read"), None);
        assert_eq!(
            ScanError::from_sane_status(6, "read"),
            Some(ScanError::Jammed)
        );
        assert_eq!(
            ScanError::from_sane_status(7, "start"),
            Some(ScanError::NoDocuments)
        );
        assert_eq!(
            ScanError::from_sane_status(8, "start"),
            Some(ScanError::CoverOpen)
        );
        assert_eq!(
            ScanError::from_sane_status(4, "set mode"),
            Some(ScanError::InvalidOption("set mode".into()))
        );
        assert!(matches!(
            ScanError::from_sane_status(99, "read"),
            Some(ScanError::Io(t)) if t.contains("99")
        ));
        assert_eq!(ScanError::Jammed.kind(), ErrorKind::NotReady);
        assert_eq!(
            ScanError::DeviceGone("x".into()).kind(),
            ErrorKind::Disconnected
        );
        assert_eq!(ScanError::Io("x".into()).kind(), ErrorKind::Io);
    }

    #[test]
    fn every_error_has_distinct_messages_in_both_languages() {
        let all = [
            ScanError::Jammed,
            ScanError::NoDocuments,
            ScanError::CoverOpen,
            ScanError::Busy,
            ScanError::WarmingUp,
            ScanError::Locked,
            ScanError::InvalidOption("resolution".into()),
            ScanError::DeviceGone("test:0".into()),
            ScanError::AccessDenied,
            ScanError::Cancelled,
            ScanError::Unsupported("x".into()),
            ScanError::Io("x".into()),
        ];
        let mut seen = std::collections::HashSet::new();
        for e in &all {
            let en = e.staff_message(Language::En);
            let vi = e.staff_message(Language::Vi);
            assert_ne!(en, vi);
            assert!(seen.insert(en.clone()), "duplicate message {en}");
            assert!(seen.insert(vi), "duplicate Vietnamese message for {e:?}");
        }
        assert!(ScanError::Jammed
            .staff_message(Language::Vi)
            .contains("kẹt"));
        assert!(ScanError::InvalidOption("resolution".into())
            .staff_message(Language::En)
            .contains("(resolution)"));
    }
}
