//! What the decoder and machine benches share: the stream they feed.

/// Largest read the "socket" gives at once, as the driver's first reads are.
pub const READ: usize = 64 * 1024;
/// Bytes of stream per iteration.
const TOTAL: usize = 4 * 1024 * 1024;

/// Stdout frames of `payload` bytes each, about `TOTAL` bytes in all.
pub fn stream_of(payload: usize) -> Vec<u8> {
    let frame = 8 + payload;
    let mut v = Vec::with_capacity(TOTAL + frame);
    let mut i = 0u8;
    while v.len() + frame <= TOTAL.max(frame) {
        v.extend_from_slice(&[1, 0, 0, 0]);
        v.extend_from_slice(&(payload as u32).to_be_bytes());
        v.extend(std::iter::repeat_n(b'a' + i % 26, payload));
        i = i.wrapping_add(1);
    }
    v
}
