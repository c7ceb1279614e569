//! The C ABI: the only `unsafe` code in cstream, and all of it moves bytes
//! between the host and a [`Session`] or hands a session's pointer out and back.
//!
//! The host's side of every call is the same contract: a pointer it passes
//! is one this module gave it (from [`cs_alloc`] or [`cs_new`]) and has not
//! freed, with the length it was given; a buffer is not written by the host
//! while a call reads it. A WebAssembly module cannot be called from two
//! threads at once, so there is no sharing to worry about.

use alloc::alloc::{alloc, dealloc};
use alloc::boxed::Box;
use core::alloc::Layout;
use core::ptr::{self, NonNull};

use crate::session::{Session, decode_frames, status};

/// `len` bytes at `ptr` as a slice.
///
/// # Safety
///
/// `ptr` must point to `len` initialized bytes (from [`cs_alloc`]) that stay
/// unchanged and allocated while the slice is used; any pointer when `len` is 0.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 || ptr.is_null() {
        return &[];
    }
    // SAFETY: the caller promises `len` readable, initialized bytes at `ptr`
    // that outlive the slice; `ptr` is non-null and byte-aligned.
    unsafe { core::slice::from_raw_parts(ptr, len) }
}

/// Allocates `len` bytes for the host to write a message into; null when
/// memory runs out. Free it with [`cs_free`] and the same `len`.
#[unsafe(no_mangle)]
pub extern "C" fn cs_alloc(len: usize) -> *mut u8 {
    let Ok(layout) = Layout::from_size_align(len, 1) else { return ptr::null_mut() };
    if len == 0 {
        return NonNull::dangling().as_ptr();
    }
    // SAFETY: `layout` has a non-zero size, as `alloc` requires.
    unsafe { alloc(layout) }
}

/// Frees `len` bytes at `ptr` from [`cs_alloc`].
///
/// # Safety
///
/// `ptr` must come from `cs_alloc(len)` and not have been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cs_free(ptr: *mut u8, len: usize) {
    let Ok(layout) = Layout::from_size_align(len, 1) else { return };
    if len == 0 || ptr.is_null() {
        return;
    }
    // SAFETY: the caller promises `ptr` came from `alloc` with this layout
    // (`cs_alloc(len)`) and is still allocated.
    unsafe { dealloc(ptr, layout) }
}

/// Starts a run of the postcard-encoded [`WireSpec`](crate::wire::WireSpec)
/// in `len` bytes at `ptr`; returns the session handle, or null when the
/// bytes do not decode. A spec the builder refuses still gives a session:
/// its outputs are the error, then done.
///
/// # Safety
///
/// `ptr` and `len` must describe bytes from [`cs_alloc`], as in the module docs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cs_new(ptr: *const u8, len: usize) -> *mut Session {
    // SAFETY: the caller's promise is `bytes`' contract.
    let spec = unsafe { bytes(ptr, len) };
    match Session::new(spec) {
        Some(s) => Box::into_raw(Box::new(s)),
        None => ptr::null_mut(),
    }
}

/// Feeds the postcard-encoded [`WireInput`](crate::wire::WireInput) in `len`
/// bytes at `ptr` to the session; returns a [`status`] code (0 for taken).
///
/// # Safety
///
/// `session` must come from [`cs_new`] and not have been dropped; `ptr` and
/// `len` must describe bytes from [`cs_alloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cs_input(session: *mut Session, ptr: *const u8, len: usize) -> i32 {
    // SAFETY: the caller promises a live session from `cs_new`, used by no
    // one else during this call.
    let Some(session) = (unsafe { session.as_mut() }) else { return status::NO_SESSION };
    // SAFETY: the caller's promise is `bytes`' contract.
    let input = unsafe { bytes(ptr, len) };
    session.input(input)
}

/// Takes the session's next output and encodes it as a postcard
/// [`Output`](cstream_proto_core::Output); returns its length (0 for a null
/// session). Read the bytes at [`cs_output`]; they stay there until the next
/// call on the session.
///
/// # Safety
///
/// `session` must come from [`cs_new`] and not have been dropped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cs_poll(session: *mut Session) -> usize {
    // SAFETY: the caller promises a live session from `cs_new`, used by no
    // one else during this call.
    let Some(session) = (unsafe { session.as_mut() }) else { return 0 };
    session.poll().len()
}

/// Where the output of the last [`cs_poll`] is.
///
/// # Safety
///
/// `session` must come from [`cs_new`] and not have been dropped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cs_output(session: *const Session) -> *const u8 {
    // SAFETY: the caller promises a live session from `cs_new`.
    let Some(session) = (unsafe { session.as_ref() }) else { return ptr::null() };
    session.last_output().as_ptr()
}

/// Ends the session and frees it. Its container is removed only if the run
/// reached done first: drive it there (cancel, then keep feeding it).
///
/// # Safety
///
/// `session` must come from [`cs_new`] and not have been dropped; it must not
/// be used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cs_drop(session: *mut Session) {
    if session.is_null() {
        return;
    }
    // SAFETY: the caller promises `session` came from `Box::into_raw` in
    // `cs_new` and gives it up here.
    drop(unsafe { Box::from_raw(session) });
}

/// Decodes `len` bytes at `ptr` of a multiplexed attach stream, `chunk` bytes
/// at a time; returns the payload bytes, or `u64::MAX` for a malformed
/// stream. See [`decode_frames`]: a measure of the decoder, not part of a run.
///
/// # Safety
///
/// `ptr` and `len` must describe bytes from [`cs_alloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cs_decode_frames(ptr: *const u8, len: usize, chunk: usize) -> u64 {
    // SAFETY: the caller's promise is `bytes`' contract.
    let frames = unsafe { bytes(ptr, len) };
    decode_frames(frames, chunk).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;
    use core::time::Duration;

    use cstream_proto_core::{Input, Output};

    use super::*;
    use crate::wire::{WireInput, WireSpec};

    /// Copies `bytes` into memory from `cs_alloc`, as a host does.
    fn place(bytes: &[u8]) -> (*mut u8, usize) {
        let ptr = cs_alloc(bytes.len());
        assert!(!ptr.is_null());
        // SAFETY: `ptr` has room for `bytes.len()` bytes, from `cs_alloc`.
        unsafe { ptr.copy_from_nonoverlapping(bytes.as_ptr(), bytes.len()) };
        (ptr, bytes.len())
    }

    fn poll(session: *mut Session) -> Output {
        // SAFETY: a live session from `cs_new`.
        let len = unsafe { cs_poll(session) };
        // SAFETY: the same session.
        let ptr = unsafe { cs_output(session) };
        // SAFETY: the output is `len` bytes at `ptr`, there until the next call.
        let out = unsafe { bytes(ptr, len) };
        postcard::from_bytes(out).unwrap()
    }

    #[test]
    fn a_run_through_the_c_abi() {
        let spec = WireSpec { command: Some(vec!["true".into()]), ..WireSpec::new("alpine:3.20") };
        let (ptr, len) = place(&postcard::to_allocvec(&spec).unwrap());
        // SAFETY: `ptr` and `len` from `place`; freed once, after.
        let session = unsafe { cs_new(ptr, len) };
        // SAFETY: as above.
        unsafe { cs_free(ptr, len) };
        assert!(!session.is_null());
        let id = match poll(session) {
            Output::Send { id, request } if request.path == "/_ping" => id,
            other => panic!("{other:?}"),
        };
        assert!(matches!(poll(session), Output::Pending { deadline: Some(_) }));
        let now = Duration::from_nanos(5);
        let head = Input::Head { id, status: 200, headers: vec![("Api-Version".into(), "1.41".into())] };
        for input in [head, Input::Body { id, data: "OK".into() }, Input::End { id }] {
            let (ptr, len) = place(&postcard::to_allocvec(&WireInput::Input { now, input }).unwrap());
            // SAFETY: a live session; `ptr` and `len` from `place`, freed once, after.
            assert_eq!(unsafe { cs_input(session, ptr, len) }, status::OK);
            // SAFETY: as above.
            unsafe { cs_free(ptr, len) };
        }
        let sent: Vec<_> = core::iter::from_fn(|| match poll(session) {
            Output::Send { request, .. } => Some(request.path),
            _ => None,
        })
        .collect();
        assert_eq!(sent, ["/v1.41/containers/create"]);
        let (ptr, len) = place(&postcard::to_allocvec(&WireInput::CloseStdin).unwrap());
        // SAFETY: as above.
        assert_eq!(unsafe { cs_input(session, ptr, len) }, status::STDIN_NOT_ENABLED);
        // SAFETY: as above.
        unsafe { cs_free(ptr, len) };
        // SAFETY: the session from `cs_new`, dropped once.
        unsafe { cs_drop(session) };
    }

    #[test]
    fn nulls_and_garbage_are_refused() {
        let (ptr, len) = place(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
        // SAFETY: `ptr` and `len` from `place`.
        assert!(unsafe { cs_new(ptr, len) }.is_null());
        // SAFETY: null sessions are checked for; `ptr` and `len` from `place`.
        assert_eq!(unsafe { cs_input(ptr::null_mut(), ptr, len) }, status::NO_SESSION);
        // SAFETY: a null session is checked for.
        assert_eq!(unsafe { cs_poll(ptr::null_mut()) }, 0);
        // SAFETY: `ptr` and `len` from `place`, freed once.
        unsafe { cs_free(ptr, len) };
        assert!(!cs_alloc(0).is_null());
        // SAFETY: a zero-length buffer is not freed.
        unsafe { cs_free(cs_alloc(0), 0) };
    }

    #[test]
    fn the_decoder_measure_counts_payload_and_refuses_a_cut_stream() {
        let mut frames = Vec::new();
        for n in [3u32, 70_000, 1] {
            frames.extend_from_slice(&[2, 0, 0, 0]);
            frames.extend_from_slice(&n.to_be_bytes());
            frames.resize(frames.len() + n as usize, b'x');
        }
        let (ptr, len) = place(&frames);
        // SAFETY: `ptr` and `len` from `place`.
        assert_eq!(unsafe { cs_decode_frames(ptr, len, 7) }, 70_004);
        // SAFETY: a prefix of the same bytes.
        assert_eq!(unsafe { cs_decode_frames(ptr, len - 1, 4096) }, u64::MAX);
        // SAFETY: `ptr` and `len` from `place`, freed once.
        unsafe { cs_free(ptr, len) };
    }
}
