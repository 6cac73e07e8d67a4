//! A GraphQL websocket client (graphql-transport-ws) for subscription tests.
#![allow(dead_code)]

use super::Server;
use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(s: &Server, auth: Value) -> Result<Ws> {
    let url = format!("{}/graphql/ws", s.url.replacen("http", "ws", 1));
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    ws.send(Message::text(
        json!({"type": "connection_init", "payload": auth}).to_string(),
    ))
    .await?;
    Ok(ws)
}

pub async fn next_json(ws: &mut Ws) -> Result<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await?
            .context("socket closed")??;
        match msg {
            Message::Text(t) => return Ok(serde_json::from_str(&t)?),
            Message::Close(c) => bail!("closed: {c:?}"),
            _ => continue,
        }
    }
}

/// Sends one JSON message.
pub async fn send(ws: &mut Ws, msg: Value) -> Result<()> {
    ws.send(Message::text(msg.to_string())).await?;
    Ok(())
}

/// Waits for the socket to close; returns the close code (None when it ended without a frame).
pub async fn closed(ws: &mut Ws, within: Duration) -> Result<Option<u16>> {
    let end = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(end, ws.next())
            .await
            .context("the socket stayed open")?;
        match msg {
            None | Some(Err(_)) => return Ok(None),
            Some(Ok(Message::Close(c))) => return Ok(c.map(|f| u16::from(f.code))),
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t)?;
                if v["type"] == "next" {
                    bail!("an operation ran: {v}");
                }
            }
            Some(Ok(_)) => {}
        }
    }
}
