//! Building blocks shared by every page.
mod error_page;
mod layout;
mod theme;

pub use error_page::{ErrorPage, ErrorTemplate, NotFound};
pub use layout::Layout;
pub use theme::ThemeToggle;
