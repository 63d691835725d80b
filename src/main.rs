//! The `scaidrive-connectors` command: `serve` runs the appliance; `init`, `token` and `backup` work on its data
//! directory, also while the service runs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use scaidrive_connectors::appliance::Appliance;
use scaidrive_connectors::clock::SystemClock;
use scaidrive_connectors::config::{Config, LogFormat};
use scaidrive_connectors::principals::{Acting, NewToken, Principals, TokenKind};
use scaidrive_connectors::store::Store;
use scaidrive_connectors::{ids, setup};

#[derive(Parser)]
#[command(version, about = "Keeps SMB shares and SharePoint libraries in step with ScaiDrive")]
struct Cli {
    /// TOML configuration file (default: $SCAIDRIVE_CONFIG, else /etc/scaidrive-connectors/config.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance until SIGTERM or SIGINT.
    Serve,
    /// Create the data directory, its sealing key and the first admin; prints the admin's token on the last line.
    Init {
        /// User name of the first admin.
        #[arg(long, default_value = "admin")]
        admin: String,
    },
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write a consistent copy of the database to FILE (works while the appliance runs).
    Backup {
        /// Where to write the copy; must not exist.
        #[arg(long)]
        to: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token; prints the secret on the last line.
    Create {
        /// User name or usr_ id of the token's owner.
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// `api` for the REST API, `scim` for the SCIM endpoint.
        #[arg(long, default_value = "api", value_parser = ["api", "scim"])]
        kind: String,
    },
    /// List the tokens of a user.
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke a token by its tok_ id.
    Revoke { id: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), |key| std::env::var(key).ok()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    match run(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Colour codes only for a person at a terminal: journald and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn credentials_dir() -> Option<PathBuf> {
    std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from)
}

fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config),
        Command::Init { admin } => {
            let done = setup::initialize(&config, &admin, credentials_dir().as_deref(), Arc::new(SystemClock))?;
            println!("Initialized {}", config.data_dir.display());
            println!("Admin user: {} ({})", done.admin.user_name, done.admin.id);
            println!("Admin API token (shown once, store it now):");
            println!("{}", done.token.token);
            Ok(())
        }
        Command::Token(command) => token(command, &config),
        Command::Backup { to } => {
            let store = Store::open_current(&config.database_path())?;
            store.backup_to(&to).with_context(|| format!("backup to {}", to.display()))?;
            println!("Wrote a consistent copy of the database to {}", to.display());
            Ok(())
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let appliance = Appliance::start(config).await?;
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        }
        appliance.shutdown().await;
        Ok(())
    })
}

fn token(command: TokenCommand, config: &Config) -> anyhow::Result<()> {
    let store = Store::open_current(&config.database_path())?;
    let principals = Principals::new(store, Arc::new(SystemClock));
    let find_user = |user: &str| -> anyhow::Result<ids::UserId> {
        if let Ok(id) = user.parse::<ids::UserId>() {
            return Ok(principals.get_user(id)?.id);
        }
        Ok(principals.find_user_by_name(user)?.with_context(|| format!("no user named '{user}'"))?.id)
    };
    match command {
        TokenCommand::Create { user, name, kind } => {
            let kind = if kind == "scim" { TokenKind::Scim } else { TokenKind::Api };
            let new = NewToken { name, user_id: Some(find_user(&user)?), expires_at: None };
            let issued = principals.issue_token(&Acting::system(), new, kind)?;
            println!("Token {} for {user} (shown once, store it now):", issued.info.id);
            println!("{}", issued.token);
        }
        TokenCommand::List { user } => {
            for token in principals.list_tokens(find_user(&user)?)? {
                let expires = token.expires_at.map_or("never".to_owned(), |t| t.to_string());
                println!("{}\t{:?}\t{}\texpires {expires}", token.id, token.kind, token.name);
            }
        }
        TokenCommand::Revoke { id } => {
            let id: ids::TokenId = id.parse()?;
            principals.revoke_token(&Acting::system(), id)?;
            println!("Revoked {id}");
        }
    }
    Ok(())
}
