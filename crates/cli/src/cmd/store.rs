//! `agency store`: the content store from the command line.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use agency_primitives::{Cid, parse_cid};
use agency_store::{
    BlockStore, ImportOptions, KuboStore, cat, export_car, import, import_car_file, import_file,
};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWriteExt};

use tokio_util::sync::CancellationToken;

use crate::opts::{GlobalOpts, ServeOpts};
use crate::output::Output;

/// Add, read and move content-addressed data (CIDs identical to Kubo's `ipfs add`).
#[derive(Debug, Subcommand)]
pub(crate) enum StoreCmd {
    /// Add files as UnixFS and print their CIDs (same flags and defaults as `ipfs add`).
    Add(AddArgs),
    /// Write the bytes of a file CID to stdout, verifying every block.
    Cat {
        /// CID of a UnixFS file or raw block.
        cid: String,
    },
    /// Save the bytes of a file CID to a path, verifying every block.
    Get {
        /// CID of a UnixFS file or raw block.
        cid: String,
        /// Where to write the file (an existing directory gets a file named after the CID).
        #[arg(short, long, value_name = "PATH")]
        output: PathBuf,
    },
    /// Export or import a DAG as a CAR v1 file.
    #[command(subcommand)]
    Car(CarCmd),
    /// Serve the store over HTTP: a Kubo RPC subset at /api/v0 and a trustless gateway at /ipfs.
    Serve {
        /// Address to listen on (port 0 picks a free port; the URL is printed on stdout).
        #[arg(long, default_value = "127.0.0.1:5101", value_name = "ADDR")]
        listen: SocketAddr,
        /// The largest upload (`add` request body) taken, in bytes; larger ones get 413.
        #[arg(long, default_value_t = agency_store::server::DEFAULT_MAX_UPLOAD, value_name = "BYTES")]
        max_upload: u64,
        #[command(flatten)]
        opts: ServeOpts,
    },
}

/// `agency store car …`
#[derive(Debug, Subcommand)]
pub(crate) enum CarCmd {
    /// Write the DAG under a CID to a CAR file, blocks in depth-first order.
    Export {
        /// Root CID of the DAG.
        cid: String,
        /// CAR file to write (`-` for stdout).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Verify every block of a CAR file and the completeness of its DAG, then store it; prints
    /// the roots. A bad file stores nothing.
    Import {
        /// CAR file to read.
        file: PathBuf,
    },
}

/// Arguments of `agency store add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// Files to add (`-` for stdin). Directories are refused: add their files one by one, or
    /// import a CAR.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// CID version: 0 (Kubo's default) or 1 (which turns raw leaves on).
    #[arg(long, default_value_t = 0, value_name = "0|1", value_parser = clap::value_parser!(u8).range(0..=1))]
    cid_version: u8,
    /// Store leaves as raw blocks [default: on with --cid-version 1, as in Kubo].
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    raw_leaves: Option<bool>,
    /// Chunking: size-N for N-byte chunks (1..=1048576).
    #[arg(long, default_value = "size-262144", value_name = "size-N")]
    chunker: String,
    /// Compute the CIDs without storing anything.
    #[arg(long, short = 'n')]
    only_hash: bool,
    /// Print only the CIDs, one per line.
    #[arg(long, short = 'Q')]
    quieter: bool,
}

/// Runs a store subcommand.
pub(crate) async fn run(
    cmd: StoreCmd,
    g: &GlobalOpts,
    out: Output,
    stop: &CancellationToken,
) -> Result<()> {
    match cmd {
        StoreCmd::Add(args) => add(args, g, out).await,
        StoreCmd::Cat { cid } => cat_cmd(&cid, g, out).await,
        StoreCmd::Get { cid, output } => get(&cid, &output, g, out).await,
        StoreCmd::Car(CarCmd::Export { cid, output }) => car_export(&cid, &output, g, out).await,
        StoreCmd::Car(CarCmd::Import { file }) => car_import(&file, g, out).await,
        StoreCmd::Serve {
            listen,
            max_upload,
            opts,
        } => serve(listen, max_upload, &opts, g, out, stop).await,
    }
}

/// The configured block store: Kubo with `--ipfs-api`, else the embedded on-disk store.
fn open_store(g: &GlobalOpts) -> Result<Arc<dyn BlockStore>> {
    g.store.open()
}

fn cid_arg(text: &str) -> Result<Cid> {
    Ok(parse_cid(text)?)
}

enum Input {
    Stdin,
    File { path: PathBuf, len: u64 },
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::File { path, .. } => path.display().to_string(),
        }
    }

    async fn open(&self) -> Result<Box<dyn AsyncRead + Unpin + Send>> {
        Ok(match self {
            Input::Stdin => Box::new(tokio::io::stdin()),
            Input::File { path, .. } => Box::new(
                tokio::fs::File::open(path)
                    .await
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ),
        })
    }
}

/// Checks every input before anything is added, so a bad argument adds nothing.
fn check_inputs(files: &[PathBuf]) -> Result<Vec<Input>> {
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                return Ok(Input::Stdin);
            }
            let meta = std::fs::metadata(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if meta.is_dir() {
                bail!(
                    "{} is a directory: `agency store add` imports files only (Kubo's -r is not \
                     supported); add the files in it one by one, or import a CAR of it",
                    path.display()
                );
            }
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            Ok(Input::File {
                path: path.clone(),
                len: meta.len(),
            })
        })
        .collect()
}

fn progress_bar(len: u64, out: Output) -> ProgressBar {
    // Small files finish before a bar would be seen; pipes and --json/-q get none.
    if out.quiet || out.json || len < 16 << 20 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("the template is valid"),
    );
    bar
}

async fn add(args: AddArgs, g: &GlobalOpts, out: Output) -> Result<()> {
    let opts =
        ImportOptions::from_kubo_flags(args.cid_version, args.raw_leaves, Some(&args.chunker))?;
    let inputs = check_inputs(&args.files)?;
    let kubo = match (&g.store.ipfs_api, args.only_hash) {
        (Some(url), false) => Some(KuboStore::new(url)?),
        _ => None,
    };
    let local: Option<Arc<dyn BlockStore>> = match (&kubo, args.only_hash) {
        (None, false) => Some(open_store(g)?),
        _ => None,
    };
    let mut results = Vec::new();
    for input in inputs {
        let name = input.name();
        // With Kubo, stdin is spooled so that it can be read twice (ours, then Kubo's).
        let (input, _spool) = match (&input, &kubo) {
            (Input::Stdin, Some(_)) => spool_stdin().await?,
            _ => (input, None),
        };
        let len = match &input {
            Input::File { len, .. } => *len,
            Input::Stdin => 0,
        };
        let bar = progress_bar(len, out);
        bar.set_message(name.clone());
        let progress = |n| bar.set_position(n);
        let summary = match &input {
            Input::File { path, .. } => import_file(path, opts, local.as_deref(), progress).await,
            Input::Stdin => import(input.open().await?, opts, local.as_deref(), progress).await,
        }
        .with_context(|| format!("adding {name}"))?;
        bar.finish_and_clear();
        if let Some(kubo) = &kubo {
            let (theirs, _) = kubo
                .add(input.open().await?, &name, opts)
                .await
                .with_context(|| format!("adding {name} to Kubo at {}", kubo.url()))?;
            if theirs != summary.root {
                bail!(
                    "Kubo at {} computed {theirs} for {name} but Agency computed {} with the same \
                     settings ({opts:?}); check the node's Import configuration",
                    kubo.url(),
                    summary.root
                );
            }
        }
        if !out.json {
            if args.quieter {
                out.line(summary.root);
            } else {
                out.line(format_args!("added {} {name}", summary.root));
            }
        }
        results.push(json!({
            "name": name,
            "cid": summary.root.to_string(),
            "bytes": summary.size,
            "dag_size": summary.dag_size,
            "blocks": summary.blocks,
        }));
    }
    if out.json {
        out.json(&results);
    }
    Ok(())
}

async fn spool_stdin() -> Result<(Input, Option<tempfile::TempPath>)> {
    let spool = tempfile::NamedTempFile::new().context("creating a temporary file for stdin")?;
    let mut file = tokio::fs::File::from_std(spool.reopen().context("opening the stdin spool")?);
    let len = tokio::io::copy(&mut tokio::io::stdin(), &mut file)
        .await
        .context("reading stdin")?;
    file.flush().await?;
    let path = spool.into_temp_path();
    Ok((
        Input::File {
            path: path.to_path_buf(),
            len,
        },
        Some(path),
    ))
}

async fn cat_cmd(cid: &str, g: &GlobalOpts, out: Output) -> Result<()> {
    let cid = cid_arg(cid)?;
    let store = open_store(g)?;
    let mut stdout = out.raw_stdout();
    let mut chunks = std::pin::pin!(cat(store, cid));
    while let Some(chunk) = chunks
        .try_next()
        .await
        .with_context(|| format!("reading {cid}"))?
    {
        match stdout.write_all(&chunk).await {
            // The reader went away (`| head`): not an error of ours.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other.context("writing to stdout")?,
        }
    }
    stdout.flush().await.ok();
    Ok(())
}

/// Writes `path` atomically: into a temporary file beside it, renamed into place when complete.
async fn write_atomically<F, Fut>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(tokio::fs::File) -> Fut,
    Fut: std::future::Future<Output = Result<tokio::fs::File>>,
{
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".agency-partial-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let file = tokio::fs::File::from_std(tmp.reopen()?);
    let mut file = write(file).await?;
    file.flush().await?;
    file.sync_all()
        .await
        .with_context(|| format!("flushing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("moving the finished file to {}", path.display()))?;
    Ok(())
}

async fn get(cid: &str, output: &Path, g: &GlobalOpts, out: Output) -> Result<()> {
    let cid = cid_arg(cid)?;
    let store = open_store(g)?;
    let path = if output.is_dir() {
        output.join(cid.to_string())
    } else {
        output.to_path_buf()
    };
    let mut bytes = 0u64;
    write_atomically(&path, async |mut file| {
        let mut chunks = std::pin::pin!(cat(store, cid));
        while let Some(chunk) = chunks
            .try_next()
            .await
            .with_context(|| format!("reading {cid}"))?
        {
            file.write_all(&chunk)
                .await
                .with_context(|| format!("writing {}", path.display()))?;
            bytes += chunk.len() as u64;
        }
        Ok(file)
    })
    .await?;
    if out.json {
        out.json(&json!({"cid": cid.to_string(), "path": path, "bytes": bytes}));
    } else {
        out.notice(format_args!("saved {} ({bytes} bytes)", path.display()));
    }
    Ok(())
}

async fn car_export(cid: &str, output: &Path, g: &GlobalOpts, out: Output) -> Result<()> {
    let cid = cid_arg(cid)?;
    let store = open_store(g)?;
    let summary = if output.as_os_str() == "-" {
        let mut stdout = out.raw_stdout();
        let s = export_car(store, cid, &mut stdout)
            .await
            .with_context(|| format!("exporting {cid}"))?;
        stdout.flush().await?;
        s
    } else {
        let mut summary = None;
        write_atomically(output, async |mut file| {
            summary = Some(
                export_car(store, cid, &mut file)
                    .await
                    .with_context(|| format!("exporting {cid}"))?,
            );
            Ok(file)
        })
        .await?;
        summary.expect("set by a successful export")
    };
    if out.json && output.as_os_str() != "-" {
        out.json(&json!({"root": cid.to_string(), "path": output, "blocks": summary.blocks, "bytes": summary.bytes}));
    } else {
        out.notice(format_args!(
            "exported {} blocks ({} bytes) under {cid} to {}",
            summary.blocks,
            summary.bytes,
            output.display()
        ));
    }
    Ok(())
}

async fn car_import(file: &Path, g: &GlobalOpts, out: Output) -> Result<()> {
    let store = open_store(g)?;
    let summary = import_car_file(file, store.as_ref())
        .await
        .with_context(|| format!("importing {}", file.display()))?;
    let roots: Vec<String> = summary.roots.iter().map(|c| c.to_string()).collect();
    if out.json {
        out.json(&json!({"roots": roots, "blocks": summary.blocks, "bytes": summary.bytes}));
    } else {
        for root in &roots {
            out.line(root);
        }
        out.notice(format_args!(
            "imported {} blocks ({} bytes)",
            summary.blocks, summary.bytes
        ));
    }
    Ok(())
}

async fn serve(
    listen: SocketAddr,
    max_upload: u64,
    opts: &ServeOpts,
    g: &GlobalOpts,
    out: Output,
    stop: &CancellationToken,
) -> Result<()> {
    let store = open_store(g)?;
    let app = g.store.http_router(store.clone(), Some(max_upload));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    if out.json {
        out.json(
            &json!({"url": url, "rpc": format!("{url}/api/v0"), "gateway": format!("{url}/ipfs")}),
        );
    } else {
        out.line(&url);
        out.notice(format_args!(
            "serving the {} over HTTP: Kubo RPC at {url}/api/v0, gateway at {url}/ipfs/{{cid}} (Ctrl-C stops)",
            store.name()
        ));
    }
    opts.serve(listener, app, stop)
        .await
        .context("HTTP server failed")?;
    Ok(())
}
