//! ONNX Runtime through the `ort` crate, loaded at run time (`load-dynamic`): finding the shared library,
//! initialising it once, and a small session wrapper that speaks [`Tensor`].

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session;
use ort::value::{TensorRef, ValueType};

use super::quantize::Precision;
use super::winograd_op::{self, ConvAlgorithm};
use crate::{Error, Result, Tensor};

/// Where the ONNX Runtime library was loaded from, once it has been.
static ENVIRONMENT: OnceLock<std::result::Result<(Environment, PathBuf), String>> = OnceLock::new();

/// The environment variable naming the ONNX Runtime shared library explicitly (the `ort` crate's own convention).
pub const DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Folders registered by the program embedding this library, searched right after `$ORT_DYLIB_PATH`.
static REGISTERED_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Also looks for the ONNX Runtime library in `dir`, before every implicit place: for a host that ships or
/// depends on its own copy (the Python package registers its `onnxruntime` dependency's `capi/` folder).
/// Has an effect only before ONNX Runtime is first loaded.
pub fn register_library_dir(dir: impl Into<PathBuf>) {
    let dir = dir.into();
    let mut dirs = REGISTERED_DIRS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !dirs.contains(&dir) {
        dirs.push(dir);
    }
}

/// Loads ONNX Runtime on first use (see [`library_candidates`] for the search order) and returns the path of
/// the library in use. Later calls return the same outcome, failure included.
pub fn init() -> Result<&'static Path> {
    environment().map(|(_, path)| path.as_path())
}

fn environment() -> Result<&'static (Environment, PathBuf)> {
    ENVIRONMENT.get_or_init(load_first_candidate).as_ref().map_err(|e| Error::Runtime(e.clone()))
}

fn load_first_candidate() -> std::result::Result<(Environment, PathBuf), String> {
    let mut tried: Vec<String> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for candidate in SEARCH.iter().flat_map(|stage| stage()) {
        if seen.contains(&candidate.path) {
            continue;
        }
        seen.push(candidate.path.clone());
        match ort::init_from(&candidate.path) {
            Ok(builder) => {
                let env = builder.with_name("fastsam").build().map_err(|e| {
                    format!("{} loaded but its environment could not be created: {e}", candidate.path.display())
                })?;
                tracing::debug!(path = %candidate.path.display(), "ONNX Runtime loaded");
                return Ok((env, candidate.path));
            }
            Err(e) => {
                if candidate.origin == Origin::EnvVar {
                    tracing::warn!("{DYLIB_ENV}={}: {e}; searching elsewhere", candidate.path.display());
                }
                tried.push(format!("  {} ({}): {e}", candidate.path.display(), candidate.origin.describe()));
            }
        }
    }
    let tried = if tried.is_empty() { "  (no candidate library file found)".to_string() } else { tried.join("\n") };
    Err(format!(
        "the ONNX Runtime shared library ({}) was not found or could not be loaded.\nTried:\n{tried}\n\
         Searched: ${DYLIB_ENV}, folders registered by the host program, the executable's directory, .cache/onnxruntime/onnxruntime/capi in the current \
         and executable directories and their parents, the Python `onnxruntime` package, and system library \
         directories.\nFix: `python3 -m pip install onnxruntime` (or run tools/setup-ort.sh in the fastsam \
         repository), or set {DYLIB_ENV}=/path/to/{}",
        library_file_name(),
        library_file_name()
    ))
}

/// How a library candidate was found (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    EnvVar,
    Registered,
    ExecutableDir,
    RepoCache,
    Python,
    System,
}

impl Origin {
    fn describe(self) -> &'static str {
        match self {
            Origin::EnvVar => DYLIB_ENV,
            Origin::Registered => "registered by the host program",
            Origin::ExecutableDir => "next to the executable",
            Origin::RepoCache => ".cache/onnxruntime",
            Origin::Python => "Python onnxruntime package",
            Origin::System => "system library directory",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub origin: Origin,
}

/// `libonnxruntime.so` / `libonnxruntime.dylib` / `onnxruntime.dll`.
fn library_file_name() -> String {
    format!("{}onnxruntime{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// Whether a file name is the ONNX Runtime library itself, possibly versioned (`libonnxruntime.so.1.20.0`,
/// `libonnxruntime.1.20.0.dylib`), and not one of its provider plug-ins (`libonnxruntime_providers_*.so`).
fn is_library_name(name: &str) -> bool {
    let base = library_file_name();
    let stem = format!("{}onnxruntime.", std::env::consts::DLL_PREFIX);
    name == base
        || name.strip_prefix(&base).is_some_and(|rest| rest.starts_with('.'))
        || (name.starts_with(&stem) && name.ends_with(std::env::consts::DLL_SUFFIX))
}

/// The library file in `dir`, preferring the unversioned name, else the highest-sorting versioned one.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let exact = dir.join(library_file_name());
    if exact.is_file() {
        return Some(exact);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(is_library_name))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// Every place ONNX Runtime is looked for, in order: `$ORT_DYLIB_PATH`; the folders given to
/// [`register_library_dir`]; the running executable's directory;
/// `.cache/onnxruntime/onnxruntime/capi/` (where `tools/setup-ort.sh` installs it) in the current directory,
/// the executable's directory and all their parents; the `capi/` directory of the Python `onnxruntime`
/// package (`python3` on `PATH`); `$LD_LIBRARY_PATH` and the usual system library directories. Only existing
/// files are listed, except an explicit `$ORT_DYLIB_PATH`, which is always tried first.
pub fn library_candidates() -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for stage in SEARCH {
        for c in stage() {
            if !out.iter().any(|o| o.path == c.path) {
                out.push(c);
            }
        }
    }
    out
}

/// The search, stage by stage, so that loading stops at the first stage that works (asking Python costs a
/// process start and an import).
const SEARCH: [fn() -> Vec<Candidate>; 6] =
    [from_env, in_registered_dirs, beside_executable, in_repo_cache, in_python_package, in_system_dirs];

fn candidate(path: PathBuf, origin: Origin) -> Candidate {
    Candidate { path, origin }
}

fn executable_dir() -> Option<PathBuf> {
    std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf))
}

fn from_env() -> Vec<Candidate> {
    std::env::var_os(DYLIB_ENV)
        .filter(|p| !p.is_empty())
        .map(|p| candidate(p.into(), Origin::EnvVar))
        .into_iter()
        .collect()
}

fn in_registered_dirs() -> Vec<Candidate> {
    let dirs = REGISTERED_DIRS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    dirs.iter().filter_map(|d| library_in(d)).map(|p| candidate(p, Origin::Registered)).collect()
}

fn beside_executable() -> Vec<Candidate> {
    executable_dir().as_deref().and_then(library_in).map(|p| candidate(p, Origin::ExecutableDir)).into_iter().collect()
}

fn in_repo_cache() -> Vec<Candidate> {
    let starts = [std::env::current_dir().ok(), executable_dir()];
    starts
        .iter()
        .flatten()
        .flat_map(|start| start.ancestors())
        .filter_map(|dir| library_in(&dir.join(".cache/onnxruntime/onnxruntime/capi")))
        .map(|p| candidate(p, Origin::RepoCache))
        .collect()
}

fn in_python_package() -> Vec<Candidate> {
    python_package_dir()
        .and_then(|d| library_in(&d.join("capi")))
        .map(|p| candidate(p, Origin::Python))
        .into_iter()
        .collect()
}

fn in_system_dirs() -> Vec<Candidate> {
    system_library_dirs().iter().filter_map(|d| library_in(d)).map(|p| candidate(p, Origin::System)).collect()
}

/// The installed Python `onnxruntime` package directory, if `python3` can import it.
fn python_package_dir() -> Option<PathBuf> {
    let python = if cfg!(windows) { "python" } else { "python3" };
    let out = std::process::Command::new(python)
        .args(["-c", "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(dir.trim()))
}

fn system_library_dirs() -> Vec<PathBuf> {
    let var = if cfg!(target_os = "macos") { "DYLD_LIBRARY_PATH" } else { "LD_LIBRARY_PATH" };
    let mut dirs: Vec<PathBuf> = std::env::var_os(var).map(|v| std::env::split_paths(&v).collect()).unwrap_or_default();
    let arch_dir = format!("/usr/lib/{}-linux-gnu", std::env::consts::ARCH);
    for d in ["/usr/local/lib", "/usr/local/lib64", "/usr/lib", "/usr/lib64", arch_dir.as_str(), "/opt/homebrew/lib"] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// Held while a session is created: ONNX Runtime adds a session's custom operator domain to a process-wide
/// schema map, and two sessions registering the same domain at once fail with "the domain is already exist".
static CUSTOM_DOMAIN_REGISTRATION: Mutex<()> = Mutex::new(());

/// Where ONNX Runtime runs a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionProvider {
    Cpu,
    /// NVIDIA GPUs (the `cuda` cargo feature; falls back to the CPU when no GPU is usable).
    Cuda,
}

impl Default for ExecutionProvider {
    /// CUDA in builds with the `cuda` feature, else the CPU.
    fn default() -> Self {
        if cfg!(feature = "cuda") {
            ExecutionProvider::Cuda
        } else {
            ExecutionProvider::Cpu
        }
    }
}

/// Session options.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Threads inside one operator; `None` = every available core.
    pub intra_threads: Option<usize>,
    /// Write the model as optimised by ONNX Runtime to this file when the session is created.
    pub optimized_model_path: Option<PathBuf>,
    /// How the 3×3 convolutions of fp32 graphs built from checkpoints run on the CPU (exports are never
    /// rewritten; see [`EngineOptions::graph_conv`]).
    pub conv: ConvAlgorithm,
    /// fp32 (exact) or int8 for graphs built from checkpoints.
    pub precision: Precision,
    pub provider: ExecutionProvider,
}

impl EngineOptions {
    /// The convolution algorithm a graph built for these options uses: the Winograd operator is a CPU kernel
    /// of this crate, so a session on another execution provider (which would run it on the CPU, copying
    /// every activation back and forth) gets standard ONNX, and so does an int8 graph (integer kernels).
    pub fn graph_conv(&self) -> ConvAlgorithm {
        match (self.provider, &self.precision) {
            (ExecutionProvider::Cpu, Precision::Fp32) => self.conv,
            _ => ConvAlgorithm::Direct,
        }
    }
}

/// Name and shape of a session input or output; `None` marks a dynamic dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoInfo {
    pub name: String,
    pub shape: Vec<Option<usize>>,
}

/// One ONNX Runtime session over fp32 tensors. `run` may be called from several threads; calls are serialised
/// (each one already uses every intra-op thread).
pub struct Engine {
    session: Mutex<Session>,
    inputs: Vec<IoInfo>,
    outputs: Vec<IoInfo>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("inputs", &self.inputs).field("outputs", &self.outputs).finish()
    }
}

fn runtime_err(context: &str) -> impl Fn(ort::Error<SessionBuilder>) -> Error + '_ {
    move |e| Error::Runtime(format!("{context}: {e}"))
}

impl Engine {
    /// A session over a serialized ONNX model.
    pub fn from_bytes(model: &[u8], options: &EngineOptions) -> Result<Self> {
        let mut builder = Self::builder(options)?;
        let _registering = CUSTOM_DOMAIN_REGISTRATION.lock().unwrap_or_else(|e| e.into_inner());
        let session = builder
            .commit_from_memory(model)
            .map_err(|e| Error::Runtime(format!("cannot create a session from the model: {e}")))?;
        Self::wrap(session)
    }

    /// A session over an `.onnx` file.
    pub fn from_file(path: &Path, options: &EngineOptions) -> Result<Self> {
        let mut builder = Self::builder(options)?;
        let _registering = CUSTOM_DOMAIN_REGISTRATION.lock().unwrap_or_else(|e| e.into_inner());
        let session = builder
            .commit_from_file(path)
            .map_err(|e| Error::checkpoint(path, format!("ONNX Runtime cannot load this model: {e}")))?;
        Self::wrap(session)
    }

    fn builder(options: &EngineOptions) -> Result<SessionBuilder> {
        let (env, _) = environment()?;
        let threads = options
            .intra_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get));
        let builder = Session::builder(env)
            .map_err(|e| Error::Runtime(format!("cannot create session options: {e}")))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(runtime_err("optimisation level"))?
            .with_intra_threads(threads)
            .map_err(runtime_err("intra-op threads"))?;
        // Registered on every session: graphs without its nodes never call it.
        let domain = winograd_op::domain().map_err(|e| Error::Runtime(format!("custom operators: {e}")))?;
        let builder = builder.with_operators(domain).map_err(runtime_err("custom operators"))?;
        let builder = match &options.optimized_model_path {
            Some(p) => builder.with_optimized_model_path(p).map_err(runtime_err("optimised model path"))?,
            None => builder,
        };
        Self::with_provider(builder, options.provider)
    }

    fn with_provider(builder: SessionBuilder, provider: ExecutionProvider) -> Result<SessionBuilder> {
        match provider {
            ExecutionProvider::Cpu => Ok(builder),
            ExecutionProvider::Cuda => Self::with_cuda(builder),
        }
    }

    #[cfg(feature = "cuda")]
    fn with_cuda(builder: SessionBuilder) -> Result<SessionBuilder> {
        // Registration failure (no GPU, CPU-only library) falls back to the CPU provider with a logged warning.
        builder
            .with_execution_providers([ort::ep::CUDA::default().build()])
            .map_err(runtime_err("CUDA execution provider"))
    }

    #[cfg(not(feature = "cuda"))]
    fn with_cuda(_: SessionBuilder) -> Result<SessionBuilder> {
        Err(Error::Runtime("this build has no CUDA support: rebuild with `--features cuda`".into()))
    }

    fn wrap(session: Session) -> Result<Self> {
        let info = |outlets: &[ort::value::Outlet]| -> Vec<IoInfo> {
            outlets
                .iter()
                .map(|o| IoInfo {
                    name: o.name().to_string(),
                    shape: match o.dtype() {
                        ValueType::Tensor { shape, .. } => shape.iter().map(|&d| usize::try_from(d).ok()).collect(),
                        _ => Vec::new(),
                    },
                })
                .collect()
        };
        let inputs = info(session.inputs());
        let outputs = info(session.outputs());
        Ok(Engine { session: Mutex::new(session), inputs, outputs })
    }

    pub fn inputs(&self) -> &[IoInfo] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[IoInfo] {
        &self.outputs
    }

    /// Runs the model on `inputs` (in the order of [`Engine::inputs`]) and returns every output (in the
    /// order of [`Engine::outputs`]) as fp32.
    pub fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::Runtime(format!(
                "the model takes {} inputs, {} given",
                self.inputs.len(),
                inputs.len()
            )));
        }
        let mut values = Vec::with_capacity(inputs.len());
        for (info, t) in self.inputs.iter().zip(inputs) {
            let view = TensorRef::from_array_view((t.shape.clone(), t.data.as_slice()))
                .map_err(|e| Error::Runtime(format!("input {}: {e}", info.name)))?;
            values.push((info.name.as_str(), view));
        }
        let mut session = self.session.lock().map_err(|_| Error::Runtime("a previous run panicked".into()))?;
        let outputs = session.run(values).map_err(|e| Error::Runtime(format!("inference failed: {e}")))?;
        self.outputs
            .iter()
            .map(|info| {
                let (shape, data) = outputs[info.name.as_str()]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| Error::Runtime(format!("output {}: {e}", info.name)))?;
                let shape = shape.iter().map(|&d| d as usize).collect();
                Ok(Tensor::new(shape, data.to_vec()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_are_recognised() {
        if cfg!(target_os = "linux") {
            assert!(is_library_name("libonnxruntime.so"));
            assert!(is_library_name("libonnxruntime.so.1.31.1"));
            assert!(!is_library_name("libonnxruntime_providers_shared.so"));
            assert!(!is_library_name("libonnxruntime.so-backup"));
        }
    }
}
