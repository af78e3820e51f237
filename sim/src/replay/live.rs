//! A scenario simulated inside the viewer's app (the same run and round loop as `sim run`),
//! its trace streamed into a [`Replay`] as the run goes.

use super::*;

/// A scenario being simulated while its trace streams into a [`Replay`].
#[derive(Debug)]
pub struct Live {
    /// What has arrived so far.
    pub replay: Replay,
    /// In a mutex only to be `Sync` (the viewer keeps it in a resource).
    lines: std::sync::Mutex<mpsc::Receiver<Vec<u8>>>,
    pending: Vec<u8>,
    done: bool,
    /// The first bad line (cannot happen unless the writer and reader disagree).
    pub error: Option<String>,
}

/// Sends what the trace writer writes to the viewer, in chunks.
struct ChannelWriter(mpsc::Sender<Vec<u8>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.send(buf.to_vec()).map_err(|_| std::io::Error::other("the viewer is gone"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Live {
    /// Sets up a run of `scenario` (with `seed` and `cameras`, if given) whose trace comes
    /// here; camera images go under `images`. The caller steps the run (the viewer's app, with
    /// [`crate::app::SimPlugin`]) and [`poll`](Live::poll)s what it wrote.
    pub fn start(
        scenario: Scenario,
        seed: Option<u64>,
        cameras: Option<crate::camera::CameraMode>,
        images: &Path,
    ) -> std::io::Result<(Live, Run)> {
        std::fs::create_dir_all(images.join("images"))?;
        let (tx, rx) = mpsc::channel();
        let options = RunOptions {
            seed,
            cameras,
            trace: Some(Box::new(ChannelWriter(tx))),
            images: Some(images.to_path_buf()),
            ..RunOptions::default()
        };
        let run = Run::new(scenario, options);
        let live = Live {
            replay: Replay::new(images),
            lines: std::sync::Mutex::new(rx),
            pending: Vec::new(),
            done: false,
            error: None,
        };
        Ok((live, run))
    }

    /// Takes in what the run wrote since; returns whether anything arrived.
    pub fn poll(&mut self) -> bool {
        let mut any = false;
        let lines = match self.lines.get_mut() {
            Ok(lines) => lines,
            Err(poisoned) => poisoned.into_inner(),
        };
        loop {
            match lines.try_recv() {
                Ok(chunk) => {
                    any = true;
                    self.pending.extend_from_slice(&chunk);
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.done = true;
                    break;
                }
            }
        }
        let mut start = 0;
        while let Some(n) = self.pending[start..].iter().position(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(&self.pending[start..start + n]).into_owned();
            start += n + 1;
            if let Err(e) = self.replay.push_line(&line)
                && self.error.is_none()
            {
                self.error = Some(format!("live trace line {}: {e}", self.replay.lines()));
            }
        }
        self.pending.drain(..start);
        any
    }

    /// Whether the run has ended and everything it wrote is in.
    pub fn is_done(&self) -> bool {
        self.done && self.pending.is_empty()
    }

    /// Runs `run` to its end here and takes in all it wrote (for screenshots and tests).
    pub fn finish(&mut self, mut run: Run) {
        while run.step() {}
        drop(run.finish());
        self.poll();
    }
}
