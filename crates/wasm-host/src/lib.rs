//! Runs cstream's core compiled to WebAssembly (`crates/wasm`, built by
//! `scripts/wasm.sh`) in the [wasmi] interpreter, and drives it like the
//! native machine: [`WasmMachine`] implements the blocking driver's
//! [`Core`], so `cstream_driver_blocking::Run` runs real containers with the
//! module holding the run's state and the host doing only the I/O.
//!
//! The tests replay the recorded Docker and Podman transcripts through the
//! module and through proto-core natively, and run real containers both ways;
//! `examples/decode_bench.rs` measures the frame decoder in and out of
//! WebAssembly.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use cstream_driver_blocking::Core;
use cstream_proto_core::{CommandError, Error, Input, Output};
use cstream_wasm::session::{command_error, status};
use cstream_wasm::wire::{WireInput, WireSpec};
use wasmi::{Engine, Linker, Memory, Module, Store, TypedFunc};

/// Where `scripts/wasm.sh` leaves the module; `CSTREAM_WASM` overrides it.
pub fn wasm_path() -> PathBuf {
    match std::env::var_os("CSTREAM_WASM") {
        Some(p) => PathBuf::from(p),
        None => workspace().join("target/wasm/cstream_wasm.wasm"),
    }
}

/// The workspace's root: this crate is `crates/wasm-host` in it.
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap_or(Path::new("."))
}

/// Why the module could not be used.
#[derive(Debug)]
pub struct HostError(String);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostError {}

fn host_error(what: &str) -> impl FnOnce(wasmi::Error) -> HostError + '_ {
    move |e| HostError(format!("{what}: {e}"))
}

/// The compiled module, ready to be instantiated.
pub struct WasmModule {
    engine: Engine,
    module: Module,
}

impl WasmModule {
    /// Loads the module from [`wasm_path`]. Fails, saying to run
    /// `scripts/wasm.sh`, when it is missing or older than the sources it is
    /// built from.
    pub fn load() -> Result<Self, HostError> {
        let path = wasm_path();
        let build = "build it with `scripts/wasm.sh` (or point CSTREAM_WASM at a built cstream_wasm.wasm)";
        let wasm = std::fs::read(&path).map_err(|e| HostError(format!("{}: {e}; {build}", path.display())))?;
        if std::env::var_os("CSTREAM_WASM").is_none() {
            if let Some(newer) = newer_source(&path) {
                return Err(HostError(format!(
                    "{} is older than {}; rebuild it with `scripts/wasm.sh`",
                    path.display(),
                    newer.display()
                )));
            }
        }
        WasmModule::from_bytes(&wasm)
    }

    /// Compiles a module from its bytes.
    pub fn from_bytes(wasm: &[u8]) -> Result<Self, HostError> {
        let engine = Engine::default();
        let module = Module::new(&engine, wasm).map_err(host_error("compiling the module"))?;
        Ok(WasmModule { engine, module })
    }

    /// What the module imports from its host, as `module.name`: nothing, for
    /// a core that does no I/O.
    pub fn imports(&self) -> Vec<String> {
        self.module.imports().map(|i| format!("{}.{}", i.module(), i.name())).collect()
    }

    /// What the module exports.
    pub fn exports(&self) -> Vec<String> {
        self.module.exports().map(|e| e.name().to_string()).collect()
    }

    /// A fresh instance, with its own memory.
    pub fn instantiate(&self) -> Result<Instance, HostError> {
        let mut store = Store::new(&self.engine, ());
        let linker = <Linker<()>>::new(&self.engine);
        let instance = linker
            .instantiate(&mut store, &self.module)
            .and_then(|pre| pre.start(&mut store))
            .map_err(host_error("instantiating the module"))?;
        let memory = instance.get_memory(&store, "memory").ok_or_else(|| HostError("no exported memory".into()))?;
        macro_rules! func {
            ($name:literal) => {
                instance.get_typed_func(&store, $name).map_err(host_error($name))?
            };
        }
        Ok(Instance {
            alloc: func!("cs_alloc"),
            free: func!("cs_free"),
            new: func!("cs_new"),
            input: func!("cs_input"),
            poll: func!("cs_poll"),
            output: func!("cs_output"),
            drop: func!("cs_drop"),
            decode_frames: func!("cs_decode_frames"),
            store,
            memory,
            scratch: (0, 0),
        })
    }
}

/// The newest file among the module's sources, if newer than `module`.
fn newer_source(module: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(module).and_then(|m| m.modified()).ok()?;
    let sources = ["crates/wasm", "crates/proto-core/src", "crates/proto-core/Cargo.toml"];
    let mut stack: Vec<PathBuf> = sources.iter().map(|p| workspace().join(p)).collect();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).into_iter().flatten().flatten().map(|e| e.path()));
        } else if meta.modified().is_ok_and(|t| t > built) {
            return Some(p);
        }
    }
    None
}

/// One instance of the module: its memory and its exports, typed.
pub struct Instance {
    store: Store<()>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    new: TypedFunc<(u32, u32), u32>,
    input: TypedFunc<(u32, u32, u32), i32>,
    poll: TypedFunc<u32, u32>,
    output: TypedFunc<u32, u32>,
    drop: TypedFunc<u32, ()>,
    decode_frames: TypedFunc<(u32, u32, u32), u64>,
    /// A buffer in the module's memory for messages to it: (pointer, capacity).
    scratch: (u32, u32),
}

impl Instance {
    /// Copies `bytes` into the module's memory; returns where, and the length.
    /// The place is reused by the next call.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(u32, u32), HostError> {
        let len = u32::try_from(bytes.len()).map_err(|_| HostError("a message over 4 GiB".into()))?;
        if len > self.scratch.1 {
            if self.scratch.1 > 0 {
                self.free.call(&mut self.store, self.scratch).map_err(host_error("cs_free"))?;
                self.scratch = (0, 0);
            }
            let cap = len.next_power_of_two().max(4096);
            let ptr = self.alloc.call(&mut self.store, cap).map_err(host_error("cs_alloc"))?;
            if ptr == 0 {
                return Err(HostError(format!("the module could not allocate {cap} bytes")));
            }
            self.scratch = (ptr, cap);
        }
        let ptr = self.scratch.0;
        self.memory.write(&mut self.store, ptr as usize, bytes).map_err(|e| HostError(format!("writing: {e}")))?;
        Ok((ptr, len))
    }

    /// Runs the module's `cs_decode_frames` on `frames`, already written with
    /// [`Instance::write`] at `(ptr, len)`: payload bytes, or `None` for a bad stream.
    pub fn decode_frames(&mut self, (ptr, len): (u32, u32), chunk: u32) -> Result<Option<u64>, HostError> {
        let n = self.decode_frames.call(&mut self.store, (ptr, len, chunk)).map_err(host_error("cs_decode_frames"))?;
        Ok((n != u64::MAX).then_some(n))
    }

    /// The module's linear memory size in bytes.
    pub fn memory_size(&self) -> usize {
        self.memory.data_size(&self.store)
    }
}

/// The run state machine inside the module: a [`Core`] for the blocking
/// driver. A failure of the module (a trap: a bug) becomes one
/// [`Error::Unexpected`] saying so, then the end of the run.
pub struct WasmMachine {
    instance: Instance,
    session: u32,
    health: Health,
}

enum Health {
    Fine,
    /// The module failed; the error is yet to be output.
    Failed(String),
    /// The failure was output; only `Done` follows.
    Over,
}

impl WasmMachine {
    /// A run of `spec` in a fresh instance of `module`.
    pub fn new(module: &WasmModule, spec: &WireSpec) -> Result<Self, HostError> {
        let mut instance = module.instantiate()?;
        let encoded = postcard::to_allocvec(spec).map_err(|e| HostError(format!("encoding the spec: {e}")))?;
        let at = instance.write(&encoded)?;
        let session = instance.new.call(&mut instance.store, at).map_err(host_error("cs_new"))?;
        if session == 0 {
            return Err(HostError("the module could not decode the spec".into()));
        }
        Ok(WasmMachine { instance, session, health: Health::Fine })
    }

    /// Feeds one input; returns the module's status code
    /// ([`cstream_wasm::session::status`]).
    pub fn push(&mut self, input: &WireInput) -> i32 {
        if !matches!(self.health, Health::Fine) {
            return status::ENDED;
        }
        self.try_push(input).unwrap_or_else(|e| {
            self.health = Health::Failed(e.0);
            status::ENDED
        })
    }

    fn try_push(&mut self, input: &WireInput) -> Result<i32, HostError> {
        let encoded = postcard::to_allocvec(input).map_err(|e| HostError(format!("encoding an input: {e}")))?;
        let (ptr, len) = self.instance.write(&encoded)?;
        let code = self.instance.input.call(&mut self.instance.store, (self.session, ptr, len));
        let code = code.map_err(host_error("cs_input"))?;
        if code < 0 {
            return Err(HostError(format!("the module refused an input: status {code}")));
        }
        Ok(code)
    }

    /// The module's next output.
    pub fn next_output(&mut self) -> Output {
        if let Health::Fine = self.health {
            match self.try_next() {
                Ok(o) => return o,
                Err(e) => self.health = Health::Failed(e.0),
            }
        }
        match std::mem::replace(&mut self.health, Health::Over) {
            Health::Failed(m) => {
                Output::Error(Error::Unexpected { detail: format!("the WebAssembly module failed: {m}") })
            }
            _ => Output::Done,
        }
    }

    fn try_next(&mut self) -> Result<Output, HostError> {
        let i = &mut self.instance;
        let len = i.poll.call(&mut i.store, self.session).map_err(host_error("cs_poll"))? as usize;
        let ptr = i.output.call(&mut i.store, self.session).map_err(host_error("cs_output"))? as usize;
        let bytes =
            i.memory.data(&i.store).get(ptr..ptr + len).ok_or_else(|| HostError("output out of bounds".into()))?;
        postcard::from_bytes(bytes).map_err(|e| HostError(format!("decoding an output: {e}")))
    }

    fn command(&mut self, input: WireInput) -> Result<(), CommandError> {
        match self.push(&input) {
            status::OK => Ok(()),
            code => Err(command_error(code).unwrap_or(CommandError::Ended)),
        }
    }
}

impl Drop for WasmMachine {
    fn drop(&mut self) {
        let _ = self.instance.drop.call(&mut self.instance.store, self.session);
    }
}

impl Core for WasmMachine {
    fn poll(&mut self) -> Output {
        self.next_output()
    }

    fn input(&mut self, now: Duration, input: Input) {
        self.push(&WireInput::Input { now, input });
    }

    fn timeout(&mut self, now: Duration) {
        self.push(&WireInput::Timeout { now });
    }

    fn cancel(&mut self, now: Duration) {
        self.push(&WireInput::Cancel { now });
    }

    fn write_stdin(&mut self, data: Bytes) -> Result<(), CommandError> {
        self.command(WireInput::Stdin(data))
    }

    fn close_stdin(&mut self) -> Result<(), CommandError> {
        self.command(WireInput::CloseStdin)
    }
}
