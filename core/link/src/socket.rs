//! A stand-in for the door's GATT service over TCP on loopback: the lock simulator serves the
//! unlock protocol on it, and the resident CLI and the walkthrough unlock through it.
//!
//! One connection carries one session, like one BLE connection to a door:
//!
//! ```text
//! phone → door   u16 BE  the phone's ATT MTU (23..=517)
//! door → phone   u16 BE  the door's ATT MTU; both sides then use the smaller of the two
//! either way     u16 BE length (1..=MTU-3) ‖ frame bytes        (one ATT write/notification)
//! ```
//!
//! A length outside 1..=MTU-3 ends the connection before anything is buffered, exactly as an
//! oversized ATT write would be refused. Reads keep partial frames across timeouts, so a
//! `recv` that times out mid-frame loses nothing.

use super::{Link, LinkError};
use keyway_protocol::unlock::frame::{ATT_OVERHEAD, MAX_MTU, MIN_MTU};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// What one connection carried, counted on this side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Frame bytes (unlock-frame headers included, length prefixes and the MTU exchange not).
    pub bytes_sent: usize,
    pub bytes_received: usize,
    pub frames_sent: usize,
    pub frames_received: usize,
    /// How many times a frame arrived after this side had sent something since the last
    /// arrival: one per request/answer turn (an unlock is one round trip).
    pub round_trips: usize,
}

/// One connection between a phone and a door over TCP.
#[derive(Debug)]
pub struct SocketLink {
    stream: TcpStream,
    mtu: usize,
    /// The frame being read: its 2-byte length prefix, then its data.
    partial: Vec<u8>,
    stats: SocketStats,
    sent_since_recv: bool,
    closed: bool,
}

fn io_error(e: std::io::Error) -> LinkError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => LinkError::Timeout,
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => LinkError::Disconnected,
        _ => LinkError::Io(e.to_string()),
    }
}

fn check_mtu(mtu: usize) -> Result<usize, LinkError> {
    if (MIN_MTU..=MAX_MTU).contains(&mtu) { Ok(mtu) } else { Err(LinkError::BadMtu(mtu)) }
}

fn read_u16(stream: &mut TcpStream, timeout: Duration) -> Result<usize, LinkError> {
    stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).map_err(io_error)?;
    let mut b = [0u8; 2];
    stream.read_exact(&mut b).map_err(io_error)?;
    Ok(u16::from_be_bytes(b) as usize)
}

impl SocketLink {
    /// Phone side: connects to a door at `addr`, announces `mtu` and learns the door's.
    pub fn connect(addr: SocketAddr, mtu: usize, timeout: Duration) -> Result<Self, LinkError> {
        let mtu = check_mtu(mtu)?;
        let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io_error)?;
        let _ = stream.set_nodelay(true);
        stream.set_write_timeout(Some(timeout)).map_err(io_error)?;
        stream.write_all(&(mtu as u16).to_be_bytes()).map_err(io_error)?;
        let door_mtu = check_mtu(read_u16(&mut stream, timeout)?)?;
        Ok(Self::over(stream, mtu.min(door_mtu)))
    }

    /// Door side: reads the phone's MTU from a freshly accepted connection and answers with
    /// `door_mtu`.
    pub fn accept(mut stream: TcpStream, door_mtu: usize, timeout: Duration) -> Result<Self, LinkError> {
        let door_mtu = check_mtu(door_mtu)?;
        let _ = stream.set_nodelay(true);
        stream.set_write_timeout(Some(timeout)).map_err(io_error)?;
        let phone_mtu = check_mtu(read_u16(&mut stream, timeout)?)?;
        stream.write_all(&(door_mtu as u16).to_be_bytes()).map_err(io_error)?;
        Ok(Self::over(stream, phone_mtu.min(door_mtu)))
    }

    fn over(stream: TcpStream, mtu: usize) -> Self {
        SocketLink {
            stream,
            mtu,
            partial: Vec::new(),
            stats: SocketStats::default(),
            sent_since_recv: false,
            closed: false,
        }
    }

    fn max_frame(&self) -> usize {
        self.mtu - ATT_OVERHEAD
    }

    pub fn stats(&self) -> SocketStats {
        self.stats
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.stream.peer_addr().ok()
    }

    /// Reads until `self.partial` holds `want` bytes or the deadline passes.
    fn fill(&mut self, want: usize, deadline: Instant) -> Result<(), LinkError> {
        let mut buf = [0u8; 1024];
        while self.partial.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LinkError::Timeout);
            }
            self.stream.set_read_timeout(Some(left)).map_err(io_error)?;
            let n = (want - self.partial.len()).min(buf.len());
            match self.stream.read(&mut buf[..n]) {
                Ok(0) => return Err(LinkError::Disconnected),
                Ok(got) => self.partial.extend_from_slice(&buf[..got]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(())
    }
}

impl Link for SocketLink {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        if self.closed {
            return Err(LinkError::Disconnected);
        }
        let max = self.max_frame();
        if frame.is_empty() || frame.len() > max {
            return Err(LinkError::FrameTooLarge { len: frame.len(), max });
        }
        let mut out = Vec::with_capacity(2 + frame.len());
        out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        out.extend_from_slice(frame);
        self.stream.write_all(&out).map_err(io_error)?;
        self.stats.bytes_sent += frame.len();
        self.stats.frames_sent += 1;
        self.sent_since_recv = true;
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        if self.closed {
            return Err(LinkError::Disconnected);
        }
        let deadline = Instant::now() + timeout;
        self.fill(2, deadline)?;
        let len = u16::from_be_bytes([self.partial[0], self.partial[1]]) as usize;
        let max = self.max_frame();
        if len == 0 || len > max {
            self.close();
            return Err(LinkError::FrameTooLarge { len, max });
        }
        self.fill(2 + len, deadline)?;
        let frame = self.partial.split_off(2);
        self.partial.clear();
        self.stats.bytes_received += frame.len();
        self.stats.frames_received += 1;
        if self.sent_since_recv {
            self.stats.round_trips += 1;
            self.sent_since_recv = false;
        }
        Ok(frame)
    }

    fn close(&mut self) {
        if !self.closed {
            let _ = self.stream.flush();
            let _ = self.stream.shutdown(Shutdown::Write);
            self.closed = true;
        }
    }
}

/// The door's side of the socket: accepts one phone connection at a time.
#[derive(Debug)]
pub struct DoorListener {
    listener: TcpListener,
    door_mtu: usize,
    handshake_timeout: Duration,
}

impl DoorListener {
    /// Listens on `addr` (port 0 picks a free port, see [`DoorListener::local_addr`]); the door
    /// offers `door_mtu`.
    pub fn bind(addr: SocketAddr, door_mtu: usize) -> Result<Self, LinkError> {
        let door_mtu = check_mtu(door_mtu)?;
        let listener = TcpListener::bind(addr).map_err(io_error)?;
        Ok(DoorListener { listener, door_mtu, handshake_timeout: Duration::from_secs(5) })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, LinkError> {
        self.listener.local_addr().map_err(io_error)
    }

    /// Waits for the next phone and completes the MTU exchange.
    pub fn accept(&self) -> Result<SocketLink, LinkError> {
        let (stream, _) = self.listener.accept().map_err(io_error)?;
        SocketLink::accept(stream, self.door_mtu, self.handshake_timeout)
    }

    /// Serves connections one after another, calling `session` for each (a lock serves one
    /// phone at a time). A connection whose MTU exchange fails is reported to `on_error` and
    /// dropped; the loop ends when `session` returns `false` or accepting itself fails.
    pub fn serve(
        &self,
        mut session: impl FnMut(&mut SocketLink) -> bool,
        mut on_error: impl FnMut(LinkError),
    ) -> Result<(), LinkError> {
        loop {
            let (stream, _) = self.listener.accept().map_err(io_error)?;
            match SocketLink::accept(stream, self.door_mtu, self.handshake_timeout) {
                Ok(mut link) => {
                    let go_on = session(&mut link);
                    link.close();
                    if !go_on {
                        return Ok(());
                    }
                }
                Err(e) => on_error(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    const T: Duration = Duration::from_secs(5);

    fn pair(phone_mtu: usize, door_mtu: usize) -> (SocketLink, SocketLink) {
        let door = DoorListener::bind("127.0.0.1:0".parse().unwrap(), door_mtu).unwrap();
        let addr = door.local_addr().unwrap();
        let accepting = thread::spawn(move || door.accept().unwrap());
        let phone = SocketLink::connect(addr, phone_mtu, T).unwrap();
        (phone, accepting.join().unwrap())
    }

    #[test]
    fn both_sides_use_the_smaller_mtu_and_frames_arrive_whole_and_in_order() {
        let (mut phone, mut door) = pair(185, 247);
        assert_eq!((phone.mtu(), door.mtu()), (185, 185));
        let frames: Vec<Vec<u8>> = (1..=182).step_by(9).map(|n| (0..n).map(|i| i as u8).collect()).collect();
        for f in &frames {
            phone.send(f).unwrap();
        }
        for f in &frames {
            assert_eq!(&door.recv(T).unwrap(), f);
        }
        door.send(&[7; 182]).unwrap();
        assert_eq!(phone.recv(T).unwrap(), vec![7; 182]);
        let s = phone.stats();
        assert_eq!((s.frames_sent, s.frames_received, s.round_trips), (frames.len(), 1, 1));
        assert_eq!(s.bytes_sent, frames.iter().map(Vec::len).sum::<usize>());
        assert_eq!(door.stats().round_trips, 0, "the door received before it sent");
    }

    #[test]
    fn frames_above_the_mtu_are_refused_on_both_ends() {
        let (mut phone, mut door) = pair(23, 517);
        assert_eq!(phone.send(&[0; 21]), Err(LinkError::FrameTooLarge { len: 21, max: 20 }));
        assert_eq!(phone.send(&[]), Err(LinkError::FrameTooLarge { len: 0, max: 20 }));
        // A peer that ignores the limit: the prefix alone ends the connection.
        phone.stream.write_all(&[0, 21]).unwrap();
        phone.stream.write_all(&[0; 21]).unwrap();
        assert_eq!(door.recv(T), Err(LinkError::FrameTooLarge { len: 21, max: 20 }));
        assert_eq!(door.recv(T), Err(LinkError::Disconnected));
        assert!(door.partial.len() <= 2, "nothing read beyond the prefix");
    }

    #[test]
    fn a_timeout_mid_frame_keeps_the_bytes_already_read() {
        let (mut phone, mut door) = pair(247, 247);
        phone.stream.write_all(&[0, 4, 1, 2]).unwrap();
        assert_eq!(door.recv(Duration::from_millis(50)), Err(LinkError::Timeout));
        phone.stream.write_all(&[3, 4]).unwrap();
        assert_eq!(door.recv(T).unwrap(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_closed_peer_reads_as_disconnected_and_a_bad_announced_mtu_is_refused() {
        let (mut phone, mut door) = pair(247, 247);
        phone.close();
        assert_eq!(door.recv(T), Err(LinkError::Disconnected));
        assert_eq!(phone.send(&[1]), Err(LinkError::Disconnected));

        let door = DoorListener::bind("127.0.0.1:0".parse().unwrap(), 247).unwrap();
        let addr = door.local_addr().unwrap();
        let accepting = thread::spawn(move || door.accept());
        let mut raw = TcpStream::connect(addr).unwrap();
        raw.write_all(&600u16.to_be_bytes()).unwrap();
        assert_eq!(accepting.join().unwrap().unwrap_err(), LinkError::BadMtu(600));
        assert_eq!(SocketLink::connect(addr, 22, T).unwrap_err(), LinkError::BadMtu(22));
    }
}
