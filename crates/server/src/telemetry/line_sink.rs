//! Where the JSON log lines go: an in-memory queue that a thread of its own writes to stdout in
//! batches, so that a request never waits on `write(2)` and logging a line wakes no thread.
//!
//! Written here rather than taken from `tracing-appender`: its worker is woken for every line
//! (a futex wake and two context switches per request at load, which the profile showed as a
//! fifth of the server's CPU on the cheapest routes). Here the writer thread is woken once per
//! batch: when the first line arrives in an empty queue, then it lets lines gather for
//! [`GATHER`] before writing them in one go. Never lossy: past [`MAX_QUEUED`] bytes a logging
//! thread waits for the writer, as a blocking write would.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer lets lines gather once one has arrived.
const GATHER: Duration = Duration::from_millis(50);
/// A queue this big is written at once, without waiting out [`GATHER`].
const WRITE_AT: usize = 256 * 1024;
/// Loggers wait for the writer beyond this many queued bytes.
const MAX_QUEUED: usize = 8 * 1024 * 1024;
/// How long dropping the guard waits for the last lines to be written (a stalled stdout must
/// not keep the process from exiting).
const FINAL_WRITE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Queue {
    lines: Vec<u8>,
    closed: bool,
    waiting_loggers: usize,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// The writer waits here for lines (or for the end).
    lines_arrived: Condvar,
    /// Loggers wait here for room.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A logger that panicked mid-append leaves at worst a partial line; keep logging.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The logging side: appends whole lines.
#[derive(Clone)]
pub struct LineSink(Arc<Shared>);

/// Keeps the writer thread: dropping it writes out every queued line and stops the thread.
#[must_use = "dropping the guard stops the log writer"]
pub struct SinkGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    finished: std::sync::mpsc::Receiver<()>,
}

impl LineSink {
    /// A sink writing to `out` from a thread named `name`.
    pub fn spawn(
        name: &str,
        out: impl Write + Send + 'static,
    ) -> std::io::Result<(Self, SinkGuard)> {
        let shared = Arc::new(Shared::default());
        let (done, finished) = std::sync::mpsc::channel();
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || {
                    // Should the writer die (a panic), loggers must not wait for it for ever.
                    let _closed = CloseOnExit(&shared, done);
                    write_batches(&shared, out);
                })?
        };
        Ok((
            Self(shared.clone()),
            SinkGuard {
                shared,
                thread: Some(thread),
                finished,
            },
        ))
    }

    /// Queues `line` (one or more whole lines) for writing.
    pub fn push(&self, line: &[u8]) {
        let mut queue = self.0.lock();
        while !queue.closed
            && !queue.lines.is_empty()
            && queue.lines.len() + line.len() > MAX_QUEUED
        {
            queue.waiting_loggers += 1;
            self.0.lines_arrived.notify_one();
            queue = self.0.room.wait(queue).unwrap_or_else(|p| p.into_inner());
            queue.waiting_loggers -= 1;
        }
        if queue.closed {
            // After shutdown: write it ourselves rather than lose it.
            drop(queue);
            let _ = std::io::stdout().write_all(line);
            return;
        }
        let before = queue.lines.len();
        queue.lines.extend_from_slice(line);
        if before == 0 || (before < WRITE_AT && queue.lines.len() >= WRITE_AT) {
            self.0.lines_arrived.notify_one();
        }
    }
}

fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut queue = shared.lock();
        while queue.lines.is_empty() && !queue.closed {
            queue = shared
                .lines_arrived
                .wait(queue)
                .unwrap_or_else(|p| p.into_inner());
        }
        if queue.lines.is_empty() && queue.closed {
            return;
        }
        // Let a batch gather, unless it is big already or the process is stopping.
        let (mut queue, _) = shared
            .lines_arrived
            .wait_timeout_while(queue, GATHER, |q| {
                q.lines.len() < WRITE_AT && !q.closed && q.waiting_loggers == 0
            })
            .unwrap_or_else(|p| p.into_inner());
        std::mem::swap(&mut queue.lines, &mut batch);
        if queue.waiting_loggers > 0 {
            shared.room.notify_all();
        }
        drop(queue);
        // Nowhere to report a failed write of the log itself; the next batch tries again.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        // Do not hold on to the memory of a burst.
        if batch.capacity() > 4 * WRITE_AT {
            batch = Vec::new();
        }
    }
}

/// Marks the sink closed when the writer thread ends, however it ends.
struct CloseOnExit<'a>(&'a Shared, std::sync::mpsc::Sender<()>);

impl Drop for CloseOnExit<'_> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.room.notify_all();
        let _ = self.1.send(());
    }
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.lines_arrived.notify_one();
        self.shared.room.notify_all();
        // Joined only once it has finished: a writer stuck on a stalled stdout is left behind.
        if self.finished.recv_timeout(FINAL_WRITE).is_ok()
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let out = Capture::default();
        let (sink, guard) = LineSink::spawn("test-log", out.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        sink.push(format!("{t} {i}\n").as_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s lines stay in order");
            next[t] += 1;
        }
        assert_eq!(next, [5000; 4], "no line is lost");
    }

    #[test]
    fn a_line_is_written_without_waiting_for_more() {
        let out = Capture::default();
        let (sink, _guard) = LineSink::spawn("test-log", out.clone()).unwrap();
        sink.push(b"one\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while out.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the line was written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*out.0.lock().unwrap(), b"one\n");
    }

    /// A writer that blocks until told to go on: the queue fills and loggers must wait, not drop.
    #[test]
    fn a_full_queue_makes_loggers_wait_instead_of_dropping_lines() {
        struct Gate(Arc<(Mutex<bool>, Condvar)>, Capture);
        impl Write for Gate {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let (open, cv) = &*self.0;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
                self.1.write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let out = Capture::default();
        let (sink, guard) = LineSink::spawn("test-log", Gate(gate.clone(), out.clone())).unwrap();
        let line = vec![b'x'; 1023];
        let line = [line.as_slice(), b"\n"].concat();
        let logger = {
            let sink = sink.clone();
            std::thread::spawn(move || {
                for _ in 0..(3 * MAX_QUEUED / 1024) {
                    sink.push(&line);
                }
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !logger.is_finished(),
            "the logger waits while the writer is stuck"
        );
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        logger.join().unwrap();
        drop(guard);
        assert_eq!(out.0.lock().unwrap().len(), 3 * MAX_QUEUED);
    }
}
