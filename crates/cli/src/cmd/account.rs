//! `agency account`: an address's balance in the contract and its wallet, deposits and
//! withdrawals.

use alloy::primitives::{Address, U256};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;

use crate::connect::{Signer, connect};
use crate::opts::{GlobalOpts, eth, parse_amount};
use crate::output::Output;

/// Balances, deposits and withdrawals.
#[derive(Debug, Subcommand)]
pub(crate) enum AccountCmd {
    /// Show an account: wallet ether, balance in the contract (free stake and earnings), and
    /// reputation (points, and jobs accepted, rejected and missed).
    Balance {
        /// The account [default: yours; dev account 0 on a dev chain].
        #[arg(value_name = "ADDRESS")]
        address: Option<Address>,
    },
    /// Move ether from your wallet into your balance in the contract (stake for claims).
    Deposit {
        /// 0.1eth, 10gwei or wei.
        #[arg(value_name = "AMOUNT", value_parser = parse_amount)]
        amount: U256,
    },
    /// Send ether from your balance in the contract to your wallet (or to --to).
    Withdraw {
        /// 0.1eth, 10gwei or wei [default: the whole balance].
        #[arg(value_name = "AMOUNT", value_parser = parse_amount)]
        amount: Option<U256>,
        /// Send to this address instead of your own.
        #[arg(long, value_name = "ADDRESS")]
        to: Option<Address>,
    },
}

pub(crate) async fn run(cmd: AccountCmd, g: &GlobalOpts, out: Output) -> Result<()> {
    match cmd {
        AccountCmd::Balance { address } => {
            let signer = if address.is_some() {
                Signer::None
            } else {
                Signer::OrDev
            };
            let conn = connect(&g.chain, signer, false).await?;
            let who = match address {
                Some(a) => a,
                None => {
                    conn.announce(out);
                    conn.account()
                }
            };
            let wallet = conn
                .agency
                .balance(who)
                .await
                .context("reading the wallet balance")?;
            let a = conn.agency.account(who).await?;
            if out.json {
                out.json(&json!({
                    "address": who,
                    "wallet": wallet.to_string(),
                    "balance": a.balance.to_string(),
                    "agent": a.agent,
                    "accepted": a.accepted,
                    "rejected": a.rejected,
                    "missed": a.missed,
                    "points": a.points,
                }));
            } else {
                out.line(format_args!("account     {who}"));
                out.line(format_args!("wallet      {}", eth(wallet)));
                out.line(format_args!(
                    "balance     {} (in the contract)",
                    eth(a.balance)
                ));
                out.line(format_args!(
                    "reputation  {} points: {} accepted, {} rejected, {} missed",
                    a.points, a.accepted, a.rejected, a.missed
                ));
            }
            Ok(())
        }
        AccountCmd::Deposit { amount } => {
            if amount.is_zero() {
                bail!("nothing to deposit: the amount is 0");
            }
            let conn = connect(&g.chain, Signer::OrDev, false).await?;
            conn.announce(out);
            let mined = conn
                .agency
                .deposit(amount)
                .await
                .with_context(|| format!("depositing {}", eth(amount)))?;
            let a = conn.agency.account(conn.account()).await?;
            report(out, "deposited", amount, a.balance, mined.tx);
            Ok(())
        }
        AccountCmd::Withdraw { amount, to } => {
            let conn = connect(&g.chain, Signer::OrDev, false).await?;
            conn.announce(out);
            let me = conn.account();
            let balance = conn.agency.account(me).await?.balance;
            let amount = amount.unwrap_or(balance);
            if amount.is_zero() {
                bail!("nothing to withdraw: {me} has no balance in the contract");
            }
            if amount > balance {
                bail!(
                    "cannot withdraw {}: the balance of {me} is {}",
                    eth(amount),
                    eth(balance)
                );
            }
            let mined = conn
                .agency
                .withdraw(amount, to)
                .await
                .with_context(|| format!("withdrawing {}", eth(amount)))?;
            let left = conn.agency.account(me).await?.balance;
            report(out, "withdrew", amount, left, mined.tx);
            Ok(())
        }
    }
}

fn report(out: Output, what: &str, amount: U256, balance: U256, tx: alloy::primitives::B256) {
    if out.json {
        out.json(&json!({
            "amount": amount.to_string(),
            "balance": balance.to_string(),
            "tx": tx,
        }));
    } else {
        out.line(format_args!(
            "{what} {}; balance in the contract now {}",
            eth(amount),
            eth(balance)
        ));
    }
}
