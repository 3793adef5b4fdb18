//! What of the wrapped command line is kept in the record: the program and its flags, with the
//! values of a few harmless flags (output format, model, max turns…). Everything else — the
//! prompt, system prompts, MCP configs, paths — is replaced by a placeholder, so that the
//! database never holds prompt text or secrets passed on the command line.

use std::ffi::OsString;

/// Stands in for a dropped argument, so the shape of the command stays visible.
pub const REDACTED: &str = "<redacted>";

/// Claude CLI flags whose value is kept.
const KEPT_VALUES: &[&str] = &[
    "--output-format",
    "--input-format",
    "--model",
    "--fallback-model",
    "--max-turns",
    "--permission-mode",
    "--session-id",
    "--resume",
    "-r",
    "--allowedTools",
    "--allowed-tools",
    "--disallowedTools",
    "--disallowed-tools",
];

/// `argv` as it may be stored: see the module doc.
pub fn recorded_command(argv: &[OsString]) -> Vec<String> {
    let mut kept = Vec::with_capacity(argv.len());
    let mut keep_next_value = false;
    for (i, arg) in argv.iter().enumerate() {
        let arg = arg.to_string_lossy();
        if i == 0 {
            kept.push(arg.into_owned());
            continue;
        }
        let is_flag = arg.starts_with('-') && arg.len() > 1;
        if !is_flag {
            kept.push(if keep_next_value {
                arg.into_owned()
            } else {
                REDACTED.to_string()
            });
            keep_next_value = false;
            continue;
        }
        match arg.split_once('=') {
            Some((name, _)) if arg.starts_with("--") => {
                kept.push(if KEPT_VALUES.contains(&name) {
                    arg.into_owned()
                } else {
                    format!("{name}={REDACTED}")
                });
                keep_next_value = false;
            }
            _ => {
                keep_next_value = KEPT_VALUES.contains(&arg.as_ref());
                kept.push(arg.into_owned());
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn keeps_program_flags_and_harmless_values_but_not_the_prompt() {
        let got = recorded_command(&argv(&[
            "/usr/bin/claude",
            "-p",
            "fix the bug in src/secret.rs",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--model=claude-sonnet-4-6",
            "--append-system-prompt",
            "you are a pirate",
            "--mcp-config={\"token\":\"s3cret\"}",
        ]));
        assert_eq!(
            got,
            [
                "/usr/bin/claude",
                "-p",
                REDACTED,
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--model=claude-sonnet-4-6",
                "--append-system-prompt",
                REDACTED,
                "--mcp-config=<redacted>",
            ]
        );
    }

    #[test]
    fn a_prompt_after_a_boolean_flag_is_redacted() {
        // `--verbose` takes no value: what follows is the prompt.
        let got = recorded_command(&argv(&["claude", "--verbose", "hello", "--", "-"]));
        assert_eq!(got, ["claude", "--verbose", REDACTED, "--", REDACTED]);
    }
}
