//! Frames the door notified, waiting for the unlock exchange to read them.
//!
//! The BLE stack delivers notifications on its own thread or task; the exchange reads them
//! with a timeout. The queue is bounded: a door that floods the phone overflows it, and the
//! link then fails (a dropped frame would corrupt the exchange, so it is never silently lost).
//! Once the connection drops, frames already received are still read, then `Disconnected`.

use super::LinkError;
use super::gatt;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

pub struct NotificationQueue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
    mtu: usize,
}

#[derive(Default)]
struct State {
    frames: VecDeque<Vec<u8>>,
    fault: Option<LinkError>,
    disconnected: bool,
}

impl NotificationQueue {
    /// A queue holding at most `capacity` frames, each at most one ATT payload at `mtu`.
    pub fn new(capacity: usize, mtu: usize) -> Self {
        NotificationQueue { state: Mutex::new(State::default()), ready: Condvar::new(), capacity: capacity.max(1), mtu }
    }

    /// Adds a notified frame. An oversized frame or an overflow faults the queue.
    pub fn push(&self, frame: Vec<u8>) {
        let Ok(mut s) = self.state.lock() else { return };
        if s.fault.is_some() || s.disconnected {
            return;
        }
        if let Err(e) = gatt::check_frame(&frame, self.mtu) {
            s.fault = Some(LinkError::Io(format!("door sent a bad frame: {e}")));
        } else if s.frames.len() >= self.capacity {
            s.fault = Some(LinkError::Io(format!("more than {} frames from the door went unread", self.capacity)));
        } else {
            s.frames.push_back(frame);
        }
        self.ready.notify_all();
    }

    /// Marks the connection as gone.
    pub fn disconnect(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.disconnected = true;
        }
        self.ready.notify_all();
    }

    /// The oldest frame, waiting at most `timeout`.
    pub fn recv(&self, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        let deadline = Instant::now().checked_add(timeout);
        let mut s = self.state.lock().map_err(|_| LinkError::Io("notification queue poisoned".into()))?;
        loop {
            if let Some(e) = &s.fault {
                return Err(e.clone());
            }
            if let Some(frame) = s.frames.pop_front() {
                return Ok(frame);
            }
            if s.disconnected {
                return Err(LinkError::Disconnected);
            }
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if wait.is_zero() {
                return Err(LinkError::Timeout);
            }
            s = self.ready.wait_timeout(s, wait).map_err(|_| LinkError::Io("notification queue poisoned".into()))?.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn frames_come_out_in_order() {
        let q = NotificationQueue::new(4, 23);
        q.push(vec![1]);
        q.push(vec![2, 2]);
        assert_eq!(q.recv(Duration::ZERO).unwrap(), vec![1]);
        assert_eq!(q.recv(Duration::ZERO).unwrap(), vec![2, 2]);
        assert_eq!(q.recv(Duration::from_millis(5)), Err(LinkError::Timeout));
    }

    #[test]
    fn recv_wakes_on_a_frame_from_another_thread() {
        let q = Arc::new(NotificationQueue::new(4, 247));
        let q2 = q.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            q2.push(vec![7; 244]);
        });
        assert_eq!(q.recv(Duration::from_secs(10)).unwrap(), vec![7; 244]);
        t.join().unwrap();
    }

    #[test]
    fn disconnect_drains_then_reports() {
        let q = NotificationQueue::new(4, 23);
        q.push(vec![1]);
        q.disconnect();
        q.push(vec![2]);
        assert_eq!(q.recv(Duration::ZERO).unwrap(), vec![1]);
        assert_eq!(q.recv(Duration::from_secs(10)), Err(LinkError::Disconnected));
    }

    #[test]
    fn overflow_and_oversized_frames_fault_the_link() {
        let q = NotificationQueue::new(2, 23);
        q.push(vec![1]);
        q.push(vec![2]);
        q.push(vec![3]);
        assert!(matches!(q.recv(Duration::ZERO), Err(LinkError::Io(m)) if m.contains("unread")));

        let q = NotificationQueue::new(2, 23);
        q.push(vec![0; 21]);
        assert!(matches!(q.recv(Duration::ZERO), Err(LinkError::Io(m)) if m.contains("bad frame")));
        q.push(vec![1]);
        assert!(q.recv(Duration::ZERO).is_err());
    }
}
