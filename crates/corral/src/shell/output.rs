//! Where the shell writes: stdout and stderr as zkCli uses them, each line flushed, so the
//! two streams interleave as zkCli's do.
//!
//! Watch events are printed as they come, also while a line is being typed (as zkCli does).
//! rustyline's `ExternalPrinter` would redraw the line around them, but with it rustyline
//! leaves keys that arrive together in its buffer until the next key (it waits on the
//! terminal, not on its buffer), so the shell does not use it.

use std::io::Write;

#[derive(Clone, Default)]
pub struct Out;

impl Out {
    /// A line on stdout.
    pub fn println(&self, line: &str) {
        self.print(&format!("{line}\n"));
    }

    /// Text on stdout without a line end (zkCli's `setAcl -R` prints errors so).
    pub fn print(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed stdout is not worth failing a command for; the shell goes on.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// A line on stderr.
    pub fn eprintln(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
        let _ = err.flush();
    }

    /// A watch event block (stdout): zkCli's `printMessage`, a line break before each line.
    pub fn event(&self, lines: &[&str]) {
        let text: String = lines.iter().map(|l| format!("\n{l}\n")).collect();
        self.print(&text);
    }
}
