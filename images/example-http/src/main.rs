//! A tiny HTTP service that the example Workloads run: `GET /` answers who is serving (the Pod's
//! name, from `HOSTNAME`) and `GET /healthz` answers `ok`, for probes. It listens on
//! `0.0.0.0:$PORT` (8080 by default) and exits on SIGTERM or SIGINT at once: as a container's PID 1
//! it would otherwise ignore them and make every Pod deletion wait for its grace period.
//!
//! Standard library only (nix for the signals), linked statically, so its image is one file.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};

fn main() -> ExitCode {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    // Blocked before any thread starts, so that every thread inherits the mask and only the
    // waiting thread takes them.
    if let Err(error) = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None) {
        eprintln!("example-http: blocking SIGTERM and SIGINT: {error}");
        return ExitCode::FAILURE;
    }
    std::thread::spawn(move || {
        let signal = signals.wait();
        eprintln!("example-http: {signal:?}, exiting");
        std::process::exit(0);
    });
    let listener = match TcpListener::bind(format!("0.0.0.0:{port}")) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("example-http: listening on 0.0.0.0:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("example-http: listening on 0.0.0.0:{port}");
    let name = std::env::var("HOSTNAME").unwrap_or_else(|_| "example-http".to_owned());
    for stream in listener.incoming().flatten() {
        let name = name.clone();
        std::thread::spawn(move || {
            if let Err(error) = serve(stream, &name) {
                eprintln!("example-http: {error}");
            }
        });
    }
    ExitCode::SUCCESS
}

/// Answers one request and closes the connection.
fn serve(stream: TcpStream, name: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Headers are read and dropped: nothing here depends on them.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/healthz" => ("200 OK", "ok\n".to_owned()),
        "/" => ("200 OK", format!("hello from {name}\n")),
        _ => ("404 Not Found", "not found\n".to_owned()),
    };
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
