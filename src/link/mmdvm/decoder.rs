//! Push decoder for the MMDVM byte stream: [`FrameDecoder::feed`] octets in, frames out.
//!
//! The stream has no checksum and no escaping (docs/transports.md §1.1), so the decoder hunts for
//! `0xE0` and trusts the length octet, as MMDVMHost's `CModem::getResponse` does. It is written
//! so that nothing on the line can wedge it or make it panic:
//!
//! - running short of octets is `Ok(None)` (mini-redis `Connection::parse_frame`);
//! - octets before a frame start are skipped and counted ([`FrameDecoder::skipped_octets`]);
//! - a length octet of 1 or 2 cannot be a frame (the least is 3): the `0xE0` is dropped, the
//!   hunt goes on and the caller gets an error naming the length;
//! - a type code no firmware sends, a payload that does not fit its type, or a frame that is
//!   followed by something other than `0xE0` while holding a `0xE0` inside (a truncated frame
//!   that swallowed the start of the next one) are treated as false starts: only the `0xE0` is
//!   dropped and the hunt restarts inside, so a real frame hidden under the bogus length is
//!   still found;
//! - a long frame is at most 510 octets (L2 + 255), and the buffer holds [`CAPACITY`] octets:
//!   `feed` takes what fits and says how much, so memory stays bounded whatever arrives;
//! - a frame start with a length that never completes can be given up with
//!   [`FrameDecoder::skip_partial`] (the link does that when the line has been quiet for a
//!   while, like the firmware's 2 s reset of a half-received frame, docs/transports.md §1.1).

use nom::Parser;
use nom::bytes::streaming::{tag, take};
use nom::number::streaming::u8 as octet;

use super::frame::{
    Command, Direction, FRAME_START, Frame, MAX_FRAME_LEN, MIN_FRAME_LEN, ProtocolVersion, Reply,
    kind,
};
use crate::wire::WireError;

/// Octets the decoder buffers: a few maximal frames.
pub const CAPACITY: usize = 4 * MAX_FRAME_LEN;

/// Where a frame ends and its payload starts, read from the header.
struct Header {
    kind: u8,
    total: usize,
    payload_at: usize,
}

/// What the header parser found.
enum Head {
    Frame(Header),
    /// A short length octet below [`MIN_FRAME_LEN`].
    BadLength(u8),
}

/// `E0 LEN TYPE` or `E0 00 L2 TYPE` (docs/transports.md §1.1), streaming: `Incomplete` while octets
/// are missing.
fn header(i: &[u8]) -> nom::IResult<&[u8], Head> {
    let (i, _) = tag(&[FRAME_START][..]).parse(i)?;
    let (i, len) = octet(i)?;
    match len {
        0 => {
            let (i, (l2, kind)) = (octet, octet).parse(i)?;
            let total = usize::from(l2) + 255;
            Ok((
                i,
                Head::Frame(Header {
                    kind,
                    total,
                    payload_at: 4,
                }),
            ))
        }
        1 | 2 => Ok((i, Head::BadLength(len))),
        _ => {
            let (i, kind) = octet(i)?;
            Ok((
                i,
                Head::Frame(Header {
                    kind,
                    total: usize::from(len),
                    payload_at: 3,
                }),
            ))
        }
    }
}

/// Incremental MMDVM frame decoder, without I/O or clocks (usable by fuzzers and benches).
#[derive(Debug)]
pub struct FrameDecoder {
    direction: Direction,
    version: ProtocolVersion,
    buf: Box<[u8]>,
    /// Unconsumed octets are `buf[start..end]`.
    start: usize,
    end: usize,
    skipped: u64,
}

impl FrameDecoder {
    /// A decoder for frames travelling `direction`; replies are read with the v2 status layout
    /// until [`set_version`](Self::set_version) says otherwise.
    pub fn new(direction: Direction) -> FrameDecoder {
        FrameDecoder {
            direction,
            version: ProtocolVersion::V2,
            buf: vec![0u8; CAPACITY].into_boxed_slice(),
            start: 0,
            end: 0,
            skipped: 0,
        }
    }

    /// The protocol version that picks the GET_STATUS layout.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// Drop everything buffered (a new connection); the skipped count is kept.
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Append octets; returns how many were taken (fewer than offered only when the buffer is
    /// full: drain with [`next_frame`](Self::next_frame) and feed the rest).
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        if self.start > 0 && self.end + bytes.len() > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = bytes.len().min(self.buf.len() - self.end);
        self.buf[self.end..self.end + n].copy_from_slice(&bytes[..n]);
        self.end += n;
        n
    }

    /// Octets buffered and not yet returned as a frame.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Octets skipped so far while hunting for a frame start (never reset).
    pub fn skipped_octets(&self) -> u64 {
        self.skipped
    }

    /// Give up a frame start whose remainder has not come: drop its `0xE0` and hunt on.
    pub fn skip_partial(&mut self) {
        if self.pending() > 0 {
            self.drop_octets(1);
        }
    }

    fn drop_octets(&mut self, n: usize) {
        self.start += n;
        self.skipped += n as u64;
        if self.start == self.end {
            self.clear();
        }
    }

    /// The next frame: `Ok(None)` when more octets are needed, `Err` for a false frame start
    /// (already skipped; call again to go on).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, WireError> {
        let data = &self.buf[self.start..self.end];
        match data.iter().position(|&b| b == FRAME_START) {
            None => {
                let n = data.len();
                self.drop_octets(n);
                return Ok(None);
            }
            Some(0) => {}
            Some(p) => self.drop_octets(p),
        }
        let data = &self.buf[self.start..self.end];
        let head = match header(data) {
            Ok((_, head)) => head,
            Err(nom::Err::Incomplete(_)) => return Ok(None),
            // The data starts with 0xE0, so the tag matches and nothing else can fail.
            Err(_) => {
                self.drop_octets(1);
                return Err(WireError::Invalid {
                    frame: "mmdvm",
                    field: "header",
                    value: u32::from(FRAME_START),
                });
            }
        };
        let h = match head {
            Head::Frame(h) => h,
            Head::BadLength(len) => {
                self.drop_octets(1);
                return Err(WireError::Invalid {
                    frame: "mmdvm",
                    field: "length",
                    value: u32::from(len),
                });
            }
        };
        debug_assert!(h.total >= MIN_FRAME_LEN && h.total <= MAX_FRAME_LEN);
        // A code no firmware sends marks a false start: give it up now rather than wait for a
        // length that may swallow the next real frames.
        if !kind::is_known(h.kind) {
            self.drop_octets(1);
            return Err(WireError::Invalid {
                frame: "mmdvm",
                field: "type",
                value: u32::from(h.kind),
            });
        }
        let data = &self.buf[self.start..self.end];
        let frame = match take::<usize, &[u8], nom::error::Error<&[u8]>>(h.total).parse(data) {
            Ok((_, frame)) => frame,
            Err(_) => return Ok(None),
        };
        // Resync check: on a clean line the octet after a frame is the next frame's 0xE0. If it
        // is not, and the candidate holds a 0xE0 inside it, the candidate is most likely a
        // truncated frame that swallowed the start of a real one: give it up and rescan from
        // inside it. (A frame with no inner 0xE0 is accepted whatever follows, so garbage after
        // a good frame costs only the garbage.)
        if data.len() > h.total && data[h.total] != FRAME_START && frame[1..].contains(&FRAME_START)
        {
            self.drop_octets(1);
            return Err(WireError::Invalid {
                frame: "mmdvm",
                field: "length",
                value: h.total as u32,
            });
        }
        // A long header longer than the frame cannot happen: total >= 255 > 4.
        let payload = frame.get(h.payload_at..).unwrap_or(&[]);
        let parsed = match self.direction {
            Direction::ToHost => Reply::parse(h.kind, payload, self.version).map(Frame::Reply),
            Direction::ToModem => Command::parse(h.kind, payload).map(Frame::Command),
        };
        match parsed {
            Ok(f) => {
                self.start += h.total;
                if self.start == self.end {
                    self.clear();
                }
                Ok(Some(f))
            }
            Err(e) => {
                self.drop_octets(1);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Slot;
    use crate::link::mmdvm::frame::{DmrData, Mode};

    fn data_frame(slot: Slot, seed: u8) -> Reply {
        Reply::DmrData(DmrData {
            slot,
            control: 0x40 | (seed & 0x0F),
            burst: core::array::from_fn(|i| seed ^ i as u8),
            rssi: None,
        })
    }

    fn drain(d: &mut FrameDecoder) -> (Vec<Frame>, usize) {
        let mut frames = Vec::new();
        let mut errors = 0;
        loop {
            match d.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => return (frames, errors),
                Err(_) => errors += 1,
            }
        }
    }

    #[test]
    fn frames_split_at_every_octet_come_out_whole() {
        let a = data_frame(Slot::One, 1);
        let b = Reply::Ack { command: 2 };
        let mut stream = a.to_vec();
        stream.extend(b.to_vec());
        for cut in 0..stream.len() {
            let mut d = FrameDecoder::new(Direction::ToHost);
            assert_eq!(d.feed(&stream[..cut]), cut);
            let (mut got, errors) = drain(&mut d);
            d.feed(&stream[cut..]);
            let (more, errors2) = drain(&mut d);
            got.extend(more);
            assert_eq!(
                got,
                vec![Frame::Reply(a.clone()), Frame::Reply(b.clone())],
                "cut {cut}"
            );
            assert_eq!((errors, errors2, d.skipped_octets()), (0, 0, 0));
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn partial_frame_waits_for_more() {
        let mut d = FrameDecoder::new(Direction::ToHost);
        let f = data_frame(Slot::Two, 5).to_vec();
        d.feed(&f[..20]);
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.pending(), 20);
        d.feed(&f[20..]);
        assert_eq!(
            d.next_frame(),
            Ok(Some(Frame::Reply(data_frame(Slot::Two, 5))))
        );
    }

    #[test]
    fn garbage_between_frames_is_skipped_and_counted() {
        let mut stream = vec![0x11, 0x22, 0x33];
        stream.extend(data_frame(Slot::One, 1).to_vec());
        stream.extend([0x44, 0x55]);
        stream.extend(Reply::Ack { command: 3 }.to_vec());
        let mut d = FrameDecoder::new(Direction::ToHost);
        d.feed(&stream);
        let (got, errors) = drain(&mut d);
        assert_eq!(got.len(), 2);
        assert_eq!(errors, 0);
        assert_eq!(d.skipped_octets(), 5);
    }

    #[test]
    fn short_length_does_not_wedge_the_decoder() {
        for len in [1u8, 2] {
            let mut stream = vec![0xE0, len];
            stream.extend(Reply::Ack { command: 3 }.to_vec());
            let mut d = FrameDecoder::new(Direction::ToHost);
            d.feed(&stream);
            assert_eq!(
                d.next_frame(),
                Err(WireError::Invalid {
                    frame: "mmdvm",
                    field: "length",
                    value: len.into()
                })
            );
            assert_eq!(
                d.next_frame(),
                Ok(Some(Frame::Reply(Reply::Ack { command: 3 })))
            );
            assert_eq!(d.skipped_octets(), 2);
        }
        // E0 01 alone: rejected without waiting for a type octet.
        let mut d = FrameDecoder::new(Direction::ToHost);
        d.feed(&[0xE0, 0x01]);
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn false_start_with_unknown_type_resyncs_inside_it() {
        // E0 10 55: a 16-octet "frame" of type 0x55 that swallows a real ACK.
        let mut stream = vec![0xE0, 0x10, 0x55];
        stream.extend(Reply::Ack { command: 1 }.to_vec());
        stream.extend([0u8; 12]);
        let mut d = FrameDecoder::new(Direction::ToHost);
        d.feed(&stream);
        assert!(matches!(
            d.next_frame(),
            Err(WireError::Invalid {
                field: "type",
                value: 0x55,
                ..
            })
        ));
        assert_eq!(
            d.next_frame(),
            Ok(Some(Frame::Reply(Reply::Ack { command: 1 })))
        );
    }

    #[test]
    fn bad_payload_is_an_error_and_the_stream_goes_on() {
        // DMR_DATA1 with 10 payload octets.
        let mut stream = vec![0xE0, 13, 0x18];
        stream.extend([0u8; 10]);
        stream.extend(data_frame(Slot::Two, 2).to_vec());
        let mut d = FrameDecoder::new(Direction::ToHost);
        d.feed(&stream);
        let (got, errors) = drain(&mut d);
        assert_eq!(errors, 1);
        assert_eq!(got, vec![Frame::Reply(data_frame(Slot::Two, 2))]);
    }

    #[test]
    fn truncated_frame_followed_by_a_real_one_resyncs() {
        // DMR_DATA1 cut after 13 octets, then a whole DMR_DATA2: the 37-octet window of the
        // first swallows 24 octets of the second; the octet after it is not a frame start.
        let good = data_frame(Slot::Two, 2);
        let mut stream = vec![0xE0, 0x25, 0x18];
        stream.extend([0x40; 10]);
        stream.extend(good.to_vec());
        stream.extend(Reply::Ack { command: 1 }.to_vec());
        let mut d = FrameDecoder::new(Direction::ToHost);
        d.feed(&stream);
        let (got, errors) = drain(&mut d);
        assert_eq!(errors, 1);
        assert_eq!(
            got,
            vec![Frame::Reply(good), Frame::Reply(Reply::Ack { command: 1 })]
        );
        assert_eq!(d.skipped_octets(), 13);
    }

    #[test]
    fn stalled_long_header_can_be_given_up() {
        let mut d = FrameDecoder::new(Direction::ToHost);
        // A long frame of 255 + 200 octets that never completes, then a real frame.
        d.feed(&[0xE0, 0x00, 200, 0xFA, 1, 2, 3]);
        d.feed(&Reply::Ack { command: 0 }.to_vec());
        assert_eq!(d.next_frame(), Ok(None));
        d.skip_partial();
        let (got, _) = drain(&mut d);
        assert_eq!(got, vec![Frame::Reply(Reply::Ack { command: 0 })]);
    }

    #[test]
    fn long_frames_decode() {
        let r = Reply::DebugDump(vec![0xE0; 400]);
        let mut d = FrameDecoder::new(Direction::ToHost);
        d.feed(&r.to_vec());
        assert_eq!(d.next_frame(), Ok(Some(Frame::Reply(r))));
    }

    #[test]
    fn feed_is_bounded_and_resumable() {
        let f = data_frame(Slot::One, 7).to_vec();
        let stream: Vec<u8> = (0..200).flat_map(|_| f.iter().copied()).collect();
        let mut d = FrameDecoder::new(Direction::ToHost);
        let mut off = 0;
        let mut count = 0;
        while off < stream.len() {
            let n = d.feed(&stream[off..]);
            assert!(d.pending() <= CAPACITY);
            off += n;
            let (got, errors) = drain(&mut d);
            assert_eq!(errors, 0);
            count += got.len();
        }
        assert_eq!(count, 200);
    }

    #[test]
    fn all_garbage_never_grows_the_buffer() {
        let mut d = FrameDecoder::new(Direction::ToHost);
        for _ in 0..100 {
            assert_eq!(d.feed(&[0x42; 1000]), 1000);
            assert_eq!(drain(&mut d).0.len(), 0);
            assert_eq!(d.pending(), 0);
        }
        assert_eq!(d.skipped_octets(), 100_000);
    }

    #[test]
    fn modem_side_decodes_commands_and_version_picks_status_layout() {
        let mut d = FrameDecoder::new(Direction::ToModem);
        d.feed(&Command::SetMode(Mode::Dmr).to_vec());
        assert_eq!(
            d.next_frame(),
            Ok(Some(Frame::Command(Command::SetMode(Mode::Dmr))))
        );
        let mut h = FrameDecoder::new(Direction::ToHost);
        h.set_version(ProtocolVersion::V1);
        h.feed(&[0xE0, 14, 0x01, 0x02, 0x02, 0x01, 0, 5, 6, 0, 0, 0, 0, 0]);
        let Ok(Some(Frame::Reply(Reply::Status(s)))) = h.next_frame() else {
            panic!("status expected")
        };
        assert_eq!((s.modes, s.state, s.flags, s.dmr_space), (2, 2, 1, [5, 6]));
    }

    /// The fuzz target's invariants over a fixed pseudo-random sweep: no panic, bounded
    /// buffer, and every decoded frame re-emits to a frame that parses to the same value.
    #[test]
    fn pseudo_random_streams_keep_the_invariants() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let good = [
            data_frame(Slot::One, 3).to_vec(),
            Reply::Ack { command: 2 }.to_vec(),
            Command::SetMode(Mode::Dmr).to_vec(),
        ];
        for round in 0..2000 {
            let dir = if round % 2 == 0 {
                Direction::ToHost
            } else {
                Direction::ToModem
            };
            let mut stream = Vec::new();
            for _ in 0..(next() % 12) {
                match next() % 4 {
                    0 => stream.extend(&good[(next() % 3) as usize]),
                    1 => stream.extend([0xE0, (next() % 256) as u8, (next() % 256) as u8]),
                    _ => stream.extend((0..next() % 40).map(|_| (next() % 256) as u8)),
                }
            }
            let mut d = FrameDecoder::new(dir);
            if next() % 2 == 0 {
                d.set_version(ProtocolVersion::V1);
            }
            let version = d.version;
            for piece in stream.chunks(1 + (next() % 50) as usize) {
                d.feed(piece);
                for _ in 0..=CAPACITY {
                    match d.next_frame() {
                        Ok(None) => break,
                        Err(_) => {}
                        Ok(Some(Frame::Reply(r))) => {
                            let b = r.to_vec();
                            let (k, p) = if b[1] == 0 {
                                (b[3], &b[4..])
                            } else {
                                (b[2], &b[3..])
                            };
                            assert_eq!(Reply::parse(k, p, version), Ok(r));
                        }
                        Ok(Some(Frame::Command(c))) => {
                            let b = c.to_vec();
                            let (k, p) = if b[1] == 0 {
                                (b[3], &b[4..])
                            } else {
                                (b[2], &b[3..])
                            };
                            assert_eq!(Command::parse(k, p), Ok(c));
                        }
                    }
                }
                assert!(d.pending() <= CAPACITY);
            }
        }
    }

    #[test]
    fn every_prefix_of_every_octet_pattern_is_safe() {
        // A small exhaustive sweep over 3-octet headers followed by filler.
        for a in [0xE0u8, 0x00, 0xFF] {
            for b in 0..=255u8 {
                for c in [0x00u8, 0x18, 0x55, 0xE0, 0xFA] {
                    let mut d = FrameDecoder::new(Direction::ToHost);
                    d.feed(&[a, b, c]);
                    d.feed(&[0xE0; 40]);
                    let _ = drain(&mut d);
                    assert!(d.pending() <= CAPACITY);
                }
            }
        }
    }
}
