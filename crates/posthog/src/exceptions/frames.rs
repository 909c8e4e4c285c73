//! Stack frames from `std::backtrace`, outermost call first (protocol.md §4).

use std::backtrace::Backtrace;

use posthog_core::exception::Frame;

/// The most frames kept (the innermost ones).
pub(crate) const MAX_FRAMES: usize = 64;

/// Function-name prefixes of frames that belong to the capture machinery, not the program.
const MACHINERY: &[&str] = &[
    "std::backtrace",
    "std::panicking",
    "core::panicking",
    "std::panic::",
    "std::sys::backtrace",
    "posthog::exceptions",
    "rust_begin_unwind",
    "__rustc::",
];

/// Which frames are the application's own (`in_app`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InApp {
    /// Files under this directory (`ClientBuilder::project_root`).
    pub(crate) root: String,
    /// Module-path prefixes (`ClientBuilder::in_app_modules`, Python's `in_app_modules`):
    /// a frame whose function path starts with one is in-app wherever its file is.
    pub(crate) modules: Vec<String>,
}

impl InApp {
    /// Whether the frame of `function` in `file` is the application's own.
    fn is_in_app(&self, file: &str, function: Option<&str>) -> bool {
        let listed = function.is_some_and(|f| {
            self.modules.iter().any(|m| {
                f.strip_prefix(m.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            })
        });
        listed || in_app(file, &self.root)
    }
}

/// Captures the current stack as frames, outermost first, without the SDK's own frames.
pub(crate) fn capture(in_app: &InApp) -> Vec<Frame> {
    parse(&Backtrace::force_capture().to_string(), in_app)
}

/// Parses `Backtrace`'s text (`  N: function` then `at file:line:col`).
pub(crate) fn parse(text: &str, rules: &InApp) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(location) = trimmed.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut() {
                let mut parts = location.rsplitn(3, ':');
                let col = parts.next().and_then(|c| c.parse().ok());
                let line_no = parts.next().and_then(|l| l.parse().ok());
                let file = parts.next().unwrap_or(location);
                frame.filename = Some(file.to_owned());
                frame.lineno = line_no;
                frame.colno = col;
                frame.in_app = Some(rules.is_in_app(file, frame.function.as_deref()));
            }
        } else if let Some((index, function)) = trimmed.split_once(": ") {
            if index.chars().all(|c| c.is_ascii_digit()) && !index.is_empty() {
                frames.push(Frame {
                    platform: "native".into(),
                    lang: Some("rust".into()),
                    module: module_of(function),
                    function: Some(function.to_owned()),
                    in_app: Some(false),
                    client_resolved: Some(true),
                    ..Frame::default()
                });
            }
        }
    }
    // Drop the capture machinery at the innermost end, then keep the innermost MAX_FRAMES.
    let sdk = SdkSources::here();
    let first_real = frames
        .iter()
        .position(|f| !is_machinery(f, &sdk))
        .unwrap_or(frames.len());
    let mut frames: Vec<Frame> = frames
        .into_iter()
        .skip(first_real)
        .take(MAX_FRAMES)
        .collect();
    frames.reverse();
    frames
}

/// Whether `frame` is the capture machinery: std's backtrace and panic frames, or the SDK's
/// own code, told by its function path or, when the path is missing (an inlined frame of a
/// binary built with `debug = "line-tables-only"` names only `capture_error_at`), by its file
/// lying in the SDK's sources.
fn is_machinery(frame: &Frame, sdk: &SdkSources) -> bool {
    let by_name = frame
        .function
        .as_deref()
        .is_some_and(|name| MACHINERY.iter().any(|m| name.starts_with(m)));
    by_name
        || frame
            .filename
            .as_deref()
            .is_some_and(|file| sdk.contains(file))
}

/// Where the SDK's sources were when it was built, as backtraces print file names: absolute,
/// relative to the working directory (`./src/…`, std's short style), or as cargo's
/// `trim-paths` writes a registry crate's (`posthog-sdk-0.1.0/src/…`).
struct SdkSources {
    dir: String,
    cwd: Option<std::path::PathBuf>,
}

impl SdkSources {
    fn here() -> Self {
        Self {
            dir: concat!(env!("CARGO_MANIFEST_DIR"), "/src/").to_owned(),
            cwd: std::env::current_dir().ok(),
        }
    }

    fn contains(&self, file: &str) -> bool {
        const TRIMMED: &str = concat!(
            env!("CARGO_PKG_NAME"),
            "-",
            env!("CARGO_PKG_VERSION"),
            "/src/"
        );
        if file.starts_with(TRIMMED) {
            return true;
        }
        if file.starts_with('/') {
            return file.starts_with(&self.dir);
        }
        self.cwd.as_ref().is_some_and(|cwd| {
            let joined = cwd.join(file.trim_start_matches("./"));
            joined
                .to_str()
                .is_some_and(|path| path.starts_with(&self.dir))
        })
    }
}

/// The module path of a function path: `app::db::connect` → `app::db`, closures belonging to
/// their function (`app::main::{{closure}}` → `app`). Trait-qualified paths (`<T as Tr>::f`)
/// name no single module: `None`.
fn module_of(function: &str) -> Option<String> {
    if function.starts_with('<') {
        return None;
    }
    let mut path = function;
    while let Some(outer) = path.strip_suffix("::{{closure}}") {
        path = outer;
    }
    let (module, _) = path.rsplit_once("::")?;
    (!module.is_empty()).then(|| module.to_owned())
}

/// A frame is the application's own when its file is under the project root and not in a
/// dependency or the standard library.
fn in_app(file: &str, project_root: &str) -> bool {
    let dependency = file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || file.starts_with("/rustc/");
    !dependency
        && (project_root.is_empty() || file.starts_with(project_root) || !file.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(dir: &str) -> InApp {
        InApp {
            root: dir.into(),
            modules: Vec::new(),
        }
    }

    #[test]
    fn listed_modules_are_in_app_wherever_they_live() {
        let rules = InApp {
            root: "/home/me/myapp".into(),
            modules: vec!["serde_json".into(), "my".into()],
        };
        let frames = parse(TEXT, &rules);
        assert_eq!(
            frames[1].function.as_deref(),
            Some("serde_json::de::from_str")
        );
        assert_eq!(
            frames[1].in_app,
            Some(true),
            "listed, though in the registry"
        );
        assert_eq!(frames[2].in_app, Some(true), "under the root");
        let rules = InApp {
            root: "/elsewhere".into(),
            modules: vec!["my".into()],
        };
        assert_eq!(
            parse(TEXT, &rules)[2].in_app,
            Some(false),
            "`my` is not a prefix of the module `myapp`"
        );
    }

    const TEXT: &str = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:312:13
   1: posthog::exceptions::frames::capture
             at /home/me/posthog/src/exceptions/frames.rs:25:5
   2: myapp::db::connect
             at /home/me/myapp/src/db.rs:42:9
   3: serde_json::de::from_str
             at /root/.cargo/registry/src/x/serde_json-1.0/src/de.rs:10:1
   4: main
";

    #[test]
    fn parses_strips_machinery_and_orders_outermost_first() {
        let frames = parse(TEXT, &root("/home/me/myapp"));
        let names: Vec<_> = frames
            .iter()
            .map(|f| f.function.as_deref().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["main", "serde_json::de::from_str", "myapp::db::connect"]
        );
        let db = &frames[2];
        assert_eq!(
            (db.filename.as_deref(), db.lineno, db.colno, db.in_app),
            (
                Some("/home/me/myapp/src/db.rs"),
                Some(42),
                Some(9),
                Some(true)
            )
        );
        assert_eq!(
            frames[1].in_app,
            Some(false),
            "a registry dependency is not in-app"
        );
        assert_eq!(db.module.as_deref(), Some("myapp::db"));
        assert_eq!(frames[0].module, None, "`main` has no module path");
        assert_eq!(
            frames[0].filename, None,
            "a frame without a location keeps what it has"
        );
    }

    /// An inlined SDK frame of a binary built with line tables only has a bare function name;
    /// its file still says it is the SDK's.
    #[test]
    fn sdk_frames_without_their_path_are_machinery_by_file() {
        let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/src/exceptions/mod.rs");
        let version = env!("CARGO_PKG_VERSION");
        let text = format!(
            "   0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:312:13
   1: capture_error_at
             at {sdk}:456:25
   2: capture_error_at
             at ./src/exceptions/mod.rs:456:25
   3: capture_error_at
             at posthog-sdk-{version}/src/exceptions/mod.rs:456:25
   4: myapp::checkout
             at /home/me/myapp/src/checkout.rs:7:5
"
        );
        let frames = parse(&text, &root("/home/me/myapp"));
        let names: Vec<_> = frames
            .iter()
            .filter_map(|f| f.function.as_deref())
            .collect();
        // Tests run in the crate's directory, so `./src/…` is the SDK's too.
        assert_eq!(names, vec!["myapp::checkout"]);
        assert_eq!(frames[0].in_app, Some(true));
    }

    #[test]
    fn keeps_at_most_the_innermost_frames() {
        let text: String = (0..100)
            .map(|i| format!("  {i}: app::f{i}\n             at /home/me/app/src/lib.rs:{i}:1\n"))
            .collect();
        let frames = parse(&text, &InApp::default());
        assert_eq!(frames.len(), MAX_FRAMES);
        assert_eq!(
            frames.last().and_then(|f| f.function.as_deref()),
            Some("app::f0")
        );
    }

    #[test]
    fn modules_come_from_function_paths() {
        assert_eq!(module_of("app::db::connect").as_deref(), Some("app::db"));
        assert_eq!(
            module_of("app::main::{{closure}}::{{closure}}").as_deref(),
            Some("app")
        );
        assert_eq!(module_of("<app::Db as app::Store>::get"), None);
        assert_eq!(module_of("main"), None);
    }
}
