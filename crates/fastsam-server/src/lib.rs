//! HTTP server and browser editor for FastSAM: upload an image once (segmented once, cached), then prompt it
//! as often as needed; every prompt answers from the cached segmentation.
//!
//! Routes are listed in [`routes::API_ROUTES`] and documented in `static/openapi.json`.

pub mod api;
pub mod cache;
pub mod config;
mod editor;
pub mod error;
pub mod labelstudio;
pub mod pool;
mod prompt_mask;
pub mod routes;
pub mod segmenter;
pub mod state;
pub mod text;
pub mod xanylabeling;

use std::future::Future;
use std::net::SocketAddr;

pub use config::ServerConfig;
pub use routes::router;
pub use state::{AppState, SharedState};
pub use text::TextModel;

/// Serves `state` on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: SharedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Binds `addr`, reports the bound address (port 0 picks a free one) and serves until Ctrl-C or SIGTERM, on a
/// runtime of its own.
pub fn run(addr: SocketAddr, state: SharedState, on_listening: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        on_listening(listener.local_addr()?);
        serve(listener, state, shutdown_signal()).await
    })
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
