//! The browser entry point: hydrates the server-rendered page.
#![forbid(unsafe_code)]

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let Some(body) = leptos::prelude::document().body() else {
        return;
    };
    // Lazy routes: hydrating waits for the current page's chunk of the split bundle. Once it has
    // run the page is interactive, and `<body>` says so (`data-hydrated`, for tests and tools).
    wasm_bindgen_futures::spawn_local(async move {
        leptos::mount::hydrate_from_async(body.clone(), app::App).await.forget();
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
