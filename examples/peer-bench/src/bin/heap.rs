//! Heap bytes per session of sessionward's `MemoryStore` (and of
//! session-guard's `MemoryStore`), measured with a counting global
//! allocator: live bytes after N logins of fresh users minus live bytes
//! before, divided by N. Prints one JSON object.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use sessionward_core::{MemoryStore, RevocationMode};
use sessionward_peer_bench::*;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("BENCH_MEM_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // sessionward
    let store = Arc::new(MemoryStore::new());
    let m = sw_manager(store.clone(), RevocationMode::Strict);
    // warm up lazies (token keys, tracing) with one login, then measure
    m.login(&user(), &sw_ctx()).await.unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..n {
        let l = m.login(&user(), &sw_ctx()).await.unwrap();
        drop(l);
    }
    let sw = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64;
    // session-guard
    let g = session_guard::Guard::new(session_guard::MemoryStore::new());
    g.login(&uuid::Uuid::new_v4(), &sg_ctx(), None)
        .await
        .unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..n {
        g.login(&uuid::Uuid::new_v4(), &sg_ctx(), None)
            .await
            .unwrap();
    }
    let sg = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64;
    println!(
        "{}",
        serde_json::json!({"sessions": n, "sessionward_memory_store_bytes_per_session": sw,
            "session_guard_memory_store_bytes_per_session": sg})
    );
}
