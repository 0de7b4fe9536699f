//! The listing: one line per put site, for people and tools. The format is stable:
//!
//! ```text
//! LINE <TAB> START <TAB> BYTES <TAB> ARGS
//! ```
//!
//! `LINE` is the 1-based `.dasr` line where the put is written, `START` the run's offset in the
//! action list, `BYTES` the run's action bytes up to and including its `STOP`/`SECTION` as
//! two-digit lowercase hex separated by spaces, `ARGS` the runtime argument expressions in
//! action order, separated by `, ` (empty when there are none).

use crate::PutSite;

/// The listing line of one put site (without a newline).
pub fn line(site: &PutSite) -> String {
    let bytes: Vec<String> = site.bytes.iter().map(|b| format!("{b:02x}")).collect();
    let args: Vec<&str> = site.args.iter().map(|a| a.expr.as_str()).collect();
    format!(
        "{}\t{}\t{}\t{}",
        site.line,
        site.start,
        bytes.join(" "),
        args.join(", ")
    )
}

/// The whole listing, one line per site.
pub fn render(sites: &[PutSite]) -> String {
    sites.iter().map(|s| line(s) + "\n").collect()
}
