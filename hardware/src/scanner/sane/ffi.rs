//! Hand-written bindings to the dozen libsane functions the driver needs, and a thin safe
//! layer over them. This is the only module of the crate allowed `unsafe`.
//!
//! Everything here must be used from one thread (the SANE thread in `worker`): SANE is
//! not thread-safe, and the types are `!Send` (they hold raw pointers) so the compiler
//! keeps them there.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::scanner::options::{Constraint, OptionValue, ScanOption, Unit, ValueKind};
use crate::scanner::{DeviceInfo, ScanError};

type Word = c_int;
type Status = c_int;

const STATUS_GOOD: Status = 0;
const STATUS_EOF: Status = 5;
const ACTION_GET: c_int = 0;
const ACTION_SET: c_int = 1;
const CAP_SOFT_SELECT: Word = 1;
const CAP_INACTIVE: Word = 1 << 5;
const CAP_ADVANCED: Word = 1 << 6;
const FIXED_SCALE: f64 = 65536.0;

#[repr(C)]
struct RawDevice {
    name: *const c_char,
    vendor: *const c_char,
    model: *const c_char,
    kind: *const c_char,
}

#[repr(C)]
struct RawRange {
    min: Word,
    max: Word,
    quant: Word,
}

#[repr(C)]
struct RawOption {
    name: *const c_char,
    title: *const c_char,
    desc: *const c_char,
    value_type: c_int,
    unit: c_int,
    size: Word,
    cap: Word,
    constraint_type: c_int,
    // A union of `const SANE_String_Const *`, `const SANE_Word *` and `const SANE_Range *`.
    constraint: *const c_void,
}

/// `SANE_Parameters`: the shape of the frame about to be read.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Params {
    /// `SANE_Frame`: 0 grey, 1 RGB, 2/3/4 red/green/blue only.
    pub format: c_int,
    /// Non-zero on the last frame of an image.
    pub last_frame: Word,
    /// Bytes per line, padding included.
    pub bytes_per_line: Word,
    /// Pixels per line.
    pub pixels_per_line: Word,
    /// Lines, or -1 when unknown in advance.
    pub lines: Word,
    /// Bits per sample.
    pub depth: Word,
}

type AuthCallback = Option<unsafe extern "C" fn(*const c_char, *mut c_char, *mut c_char)>;

#[link(name = "sane")]
extern "C" {
    fn sane_init(version_code: *mut Word, authorize: AuthCallback) -> Status;
    fn sane_exit();
    fn sane_get_devices(device_list: *mut *mut *const RawDevice, local_only: Word) -> Status;
    fn sane_open(name: *const c_char, handle: *mut *mut c_void) -> Status;
    fn sane_close(handle: *mut c_void);
    fn sane_get_option_descriptor(handle: *mut c_void, option: Word) -> *const RawOption;
    fn sane_control_option(
        handle: *mut c_void,
        option: Word,
        action: c_int,
        value: *mut c_void,
        info: *mut Word,
    ) -> Status;
    fn sane_get_parameters(handle: *mut c_void, params: *mut Params) -> Status;
    fn sane_start(handle: *mut c_void) -> Status;
    fn sane_read(handle: *mut c_void, data: *mut u8, max_length: Word, length: *mut Word)
        -> Status;
    fn sane_cancel(handle: *mut c_void);
}

fn check(status: Status, what: &str) -> Result<(), ScanError> {
    match ScanError::from_sane_status(status, what) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Copies a C string owned by SANE; null becomes empty.
fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: SANE hands out NUL-terminated strings that stay valid at least until the
    // next call on the same object; we copy before returning and checked for null.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// An initialised SANE library. Dropping it calls `sane_exit`; close every [`Device`]
/// first.
pub(super) struct Session {
    _single_thread: PhantomData<*const ()>,
}

impl Session {
    /// Calls `sane_init` (no authorisation callback: network backends needing a password
    /// are not supported).
    pub fn init() -> Result<Session, ScanError> {
        let mut version: Word = 0;
        // SAFETY: `version` is a valid out-pointer for the call; a null callback is allowed.
        let status = unsafe { sane_init(&mut version, None) };
        check(status, "sane_init")?;
        tracing::info!(
            version = format!(
                "{}.{}.{}",
                version >> 24 & 0xff,
                version >> 16 & 0xff,
                version & 0xffff
            ),
            "SANE initialised"
        );
        Ok(Session {
            _single_thread: PhantomData,
        })
    }

    /// The devices SANE can see now (local and network).
    pub fn devices(&self) -> Result<Vec<DeviceInfo>, ScanError> {
        let mut list: *mut *const RawDevice = ptr::null_mut();
        // SAFETY: `list` is a valid out-pointer; SANE is initialised (we hold a Session).
        check(unsafe { sane_get_devices(&mut list, 0) }, "list devices")?;
        let mut out = Vec::new();
        if list.is_null() {
            return Ok(out);
        }
        for i in 0.. {
            // SAFETY: SANE returns a NULL-terminated array of device pointers that stays
            // valid until the next sane_get_devices or sane_exit; we stop at the NULL.
            let dev = unsafe { *list.add(i) };
            if dev.is_null() {
                break;
            }
            // SAFETY: a non-null entry points to a SANE_Device valid as above.
            let d = unsafe { &*dev };
            out.push(DeviceInfo {
                name: text(d.name),
                vendor: text(d.vendor),
                model: text(d.model),
                kind: text(d.kind),
            });
        }
        Ok(out)
    }

    /// Opens a device by name; an unknown name is `DeviceGone`.
    pub fn open(&self, name: &str) -> Result<Device, ScanError> {
        let c = CString::new(name)
            .map_err(|_| ScanError::DeviceGone(format!("bad device name {name:?}")))?;
        let mut handle: *mut c_void = ptr::null_mut();
        // SAFETY: `c` is a valid NUL-terminated string for the call; `handle` is a valid
        // out-pointer.
        let status = unsafe { sane_open(c.as_ptr(), &mut handle) };
        match ScanError::from_sane_status(status, name) {
            None => {}
            // SANE says INVAL when there is no such device.
            Some(ScanError::InvalidOption(_)) => return Err(ScanError::DeviceGone(name.into())),
            Some(e) => return Err(e),
        }
        let handle = NonNull::new(handle)
            .ok_or_else(|| ScanError::Io(format!("sane_open({name}) gave no handle")))?;
        Ok(Device {
            handle,
            _session: PhantomData,
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: SANE was initialised by `init`; the worker drops devices before this.
        unsafe { sane_exit() }
    }
}

/// An open device. Dropping it calls `sane_close`.
pub(super) struct Device {
    handle: NonNull<c_void>,
    _session: PhantomData<*const ()>,
}

impl Device {
    fn raw_option(&self, index: Word) -> Option<&RawOption> {
        // SAFETY: the handle is open; SANE returns null for an index out of range, or a
        // descriptor valid until the handle closes or options are reloaded. The borrow
        // of `self` ends before any call that could reload them.
        unsafe { sane_get_option_descriptor(self.handle.as_ptr(), index).as_ref() }
    }

    /// Calls `sane_control_option` with a buffer sized for the option.
    fn control(
        &self,
        index: Word,
        action: c_int,
        buf: &mut [Word],
        what: &str,
    ) -> Result<(), ScanError> {
        let mut info: Word = 0;
        let value = if buf.is_empty() {
            ptr::null_mut()
        } else {
            buf.as_mut_ptr().cast::<c_void>()
        };
        // SAFETY: the handle is open; `buf` is word-aligned and at least the option's
        // `size` bytes (the callers size it from the descriptor with `word_buf`), or null
        // for a button; `info` is a valid out-pointer.
        let status =
            unsafe { sane_control_option(self.handle.as_ptr(), index, action, value, &mut info) };
        check(status, what)
    }

    /// Every option with its current value (inactive options have none), with the index
    /// to set it by.
    pub fn options(&self) -> Result<Vec<(Word, ScanOption)>, ScanError> {
        let mut count = [0 as Word; 1];
        self.control(0, ACTION_GET, &mut count, "read option count")?;
        let count = count[0];
        let mut out = Vec::new();
        for index in 1..count {
            let Some(raw) = self.raw_option(index) else {
                continue;
            };
            let kind = match raw.value_type {
                0 => ValueKind::Bool,
                1 => ValueKind::Int,
                2 => ValueKind::Fixed,
                3 => ValueKind::Text,
                4 => ValueKind::Button,
                _ => ValueKind::Group,
            };
            let unit = match raw.unit {
                1 => Unit::Pixel,
                2 => Unit::Bit,
                3 => Unit::Mm,
                4 => Unit::Dpi,
                5 => Unit::Percent,
                6 => Unit::Microsecond,
                _ => Unit::None,
            };
            let num = |w: Word| match kind {
                ValueKind::Fixed => f64::from(w) / FIXED_SCALE,
                _ => f64::from(w),
            };
            let constraint = if raw.constraint.is_null() {
                Constraint::None
            } else {
                match raw.constraint_type {
                    1 => {
                        // SAFETY: constraint type RANGE means the union holds a valid
                        // `const SANE_Range *` (checked non-null above).
                        let r = unsafe { &*raw.constraint.cast::<RawRange>() };
                        Constraint::Range {
                            min: num(r.min),
                            max: num(r.max),
                            step: num(r.quant),
                        }
                    }
                    2 => {
                        let words = raw.constraint.cast::<Word>();
                        // SAFETY: WORD_LIST means a `const SANE_Word *` whose first element
                        // is the number of elements that follow.
                        let n = unsafe { *words }.max(0) as usize;
                        // SAFETY: as above, elements 1..=n are valid.
                        let list = unsafe { std::slice::from_raw_parts(words.add(1), n) };
                        Constraint::Numbers(list.iter().map(|&w| num(w)).collect())
                    }
                    3 => {
                        let strs = raw.constraint.cast::<*const c_char>();
                        let mut v = Vec::new();
                        for i in 0.. {
                            // SAFETY: STRING_LIST means a NULL-terminated array of C strings.
                            let s = unsafe { *strs.add(i) };
                            if s.is_null() {
                                break;
                            }
                            v.push(text(s));
                        }
                        Constraint::Strings(v)
                    }
                    _ => Constraint::None,
                }
            };
            let mut opt = ScanOption {
                name: text(raw.name),
                title: text(raw.title),
                description: text(raw.desc),
                kind,
                unit,
                constraint,
                value: None,
                settable: raw.cap & CAP_SOFT_SELECT != 0,
                active: raw.cap & CAP_INACTIVE == 0,
                advanced: raw.cap & CAP_ADVANCED != 0,
            };
            let size = raw.size.max(0) as usize;
            if opt.active && !matches!(kind, ValueKind::Button | ValueKind::Group) && size > 0 {
                let mut buf = word_buf(size);
                let what = format!("read option {}", opt.name);
                // Some options cannot be read (hardware buttons); list them without a value.
                opt.value = self
                    .get(index, &mut buf, &what)
                    .ok()
                    .map(|w| decode(kind, w));
            }
            out.push((index, opt));
        }
        Ok(out)
    }

    fn get<'b>(
        &self,
        index: Word,
        buf: &'b mut [Word],
        what: &str,
    ) -> Result<&'b [Word], ScanError> {
        self.control(index, ACTION_GET, buf, what)?;
        Ok(buf)
    }

    /// Sets option `index`, described by `opt` (from [`Device::options`]), to `value`.
    pub fn set(&self, index: Word, opt: &ScanOption, value: &OptionValue) -> Result<(), ScanError> {
        let raw_size = self
            .raw_option(index)
            .map(|r| r.size.max(0) as usize)
            .unwrap_or(0);
        let bad = || ScanError::InvalidOption(format!("{} = {value:?}", opt.name));
        let what = format!("set {}", opt.name);
        let mut buf = match (opt.kind, value) {
            (ValueKind::Button, _) => Vec::new(),
            (ValueKind::Bool, OptionValue::Bool(b)) => vec![Word::from(*b)],
            (ValueKind::Int | ValueKind::Fixed, v) => {
                let nums: Vec<f64> = match v {
                    OptionValue::Int(i) => vec![f64::from(*i)],
                    OptionValue::Fixed(f) => vec![*f],
                    OptionValue::IntArray(a) => a.iter().map(|&i| f64::from(i)).collect(),
                    OptionValue::FixedArray(a) => a.clone(),
                    _ => return Err(bad()),
                };
                if nums.len() * 4 != raw_size {
                    return Err(bad());
                }
                nums.iter()
                    .map(|&x| match opt.kind {
                        ValueKind::Fixed => (x * FIXED_SCALE).round() as Word,
                        _ => x.round() as Word,
                    })
                    .collect()
            }
            (ValueKind::Text, OptionValue::Text(s)) => {
                if s.len() + 1 > raw_size || s.contains('\0') {
                    return Err(bad());
                }
                let mut bytes = s.as_bytes().to_vec();
                bytes.resize(raw_size.div_ceil(4) * 4, 0);
                bytes
                    .chunks_exact(4)
                    .map(|c| Word::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            }
            _ => return Err(bad()),
        };
        self.control(index, ACTION_SET, &mut buf, &what)
    }

    /// The parameters of the frame about to be (or being) read.
    pub fn params(&self) -> Result<Params, ScanError> {
        let mut p = Params::default();
        // SAFETY: the handle is open and `p` is a valid, correctly laid out out-pointer.
        check(
            unsafe { sane_get_parameters(self.handle.as_ptr(), &mut p) },
            "get parameters",
        )?;
        Ok(p)
    }

    /// Starts a frame (`sane_start`): feeds a sheet, or moves the flatbed head.
    pub fn start(&self) -> Result<(), ScanError> {
        // SAFETY: the handle is open.
        check(unsafe { sane_start(self.handle.as_ptr()) }, "start scan")
    }

    /// Reads image bytes into `buf`; `None` at the end of the frame.
    pub fn read(&self, buf: &mut [u8]) -> Result<Option<usize>, ScanError> {
        let mut len: Word = 0;
        let max = Word::try_from(buf.len()).unwrap_or(Word::MAX);
        // SAFETY: the handle is open; `buf` has at least `max` writable bytes and `len`
        // is a valid out-pointer.
        let status = unsafe { sane_read(self.handle.as_ptr(), buf.as_mut_ptr(), max, &mut len) };
        if status == STATUS_EOF {
            return Ok(None);
        }
        check(status, "read")?;
        debug_assert_eq!(status, STATUS_GOOD);
        Ok(Some(len.clamp(0, max) as usize))
    }

    /// Ends the scan or batch (`sane_cancel`); harmless when idle.
    pub fn cancel(&self) {
        // SAFETY: the handle is open.
        unsafe { sane_cancel(self.handle.as_ptr()) }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: the handle is open and is not used after this.
        unsafe { sane_close(self.handle.as_ptr()) }
    }
}

/// A zeroed, word-aligned buffer of at least `size` bytes (SANE reads words from it).
fn word_buf(size: usize) -> Vec<Word> {
    vec![0; size.div_ceil(4).max(1)]
}

fn decode(kind: ValueKind, words: &[Word]) -> OptionValue {
    let words = words.to_vec();
    match kind {
        ValueKind::Bool => OptionValue::Bool(words.first().copied().unwrap_or(0) != 0),
        ValueKind::Int if words.len() == 1 => OptionValue::Int(words[0]),
        ValueKind::Int => OptionValue::IntArray(words),
        ValueKind::Fixed if words.len() == 1 => {
            OptionValue::Fixed(f64::from(words[0]) / FIXED_SCALE)
        }
        ValueKind::Fixed => {
            OptionValue::FixedArray(words.iter().map(|&w| f64::from(w) / FIXED_SCALE).collect())
        }
        _ => {
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            OptionValue::Text(String::from_utf8_lossy(&bytes[..end]).into_owned())
        }
    }
}
