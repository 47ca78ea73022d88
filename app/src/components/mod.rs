//! Building blocks shared by every page.
mod confirm;
mod dialog;
mod error_page;
mod forms;
mod theme;
mod time;

pub use confirm::{CONFIRM_FIELD, ConfirmDialog};
pub use dialog::{
    DIALOG_PARAM, UrlDialog, clear_on_open, close_dialog, dialog_error, dialog_href, open_dialog,
};
pub use error_page::{ErrorPage, ErrorTemplate, NotFound, page_error};
pub use forms::{
    KEPT_FIELDS, RETURN_FIELD, ReturnHere, TYPED_PREFIX, announce_successes, count_successes,
    field_error, form_error, typed,
};
pub use theme::{THEME_PATH, Theme, ThemeToggle, theme_cookie};
pub use time::Timestamp;
