//! Building blocks shared by every page.
mod error_page;
mod forms;
mod layout;
mod theme;
mod time;

pub use error_page::{ErrorPage, ErrorTemplate, NotFound, page_error};
pub use forms::{RETURN_FIELD, ReturnHere};
pub use layout::Layout;
pub use theme::ThemeToggle;
pub use time::Timestamp;
