//! Giving freed heap memory back to the operating system.
//!
//! glibc's allocator keeps freed memory in its arenas: after start-up (the
//! phone-number metadata, the store's recovery) or after a burst of sessions
//! ends, a long-running process keeps pages it no longer uses. On a small
//! appliance that memory belongs to the rest of the box, so smsgate trims
//! at the moments it knows a lot was just freed.

/// Returns the allocator's free pages to the kernel (glibc `malloc_trim`).
/// A no-op on other C libraries.
pub fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it is
    // thread-safe and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trimming_after_freeing_keeps_the_heap_usable() {
        let blocks: Vec<Vec<u8>> = (0..256).map(|i| vec![i as u8; 64 * 1024]).collect();
        drop(blocks);
        super::give_back_free_memory();
        let again = vec![7u8; 1 << 20];
        assert_eq!(again.iter().map(|&b| b as usize).sum::<usize>(), 7 << 20);
    }
}
