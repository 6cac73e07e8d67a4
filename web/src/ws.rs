//! `/graphql/ws`: GraphQL over websocket (graphql-transport-ws and the older graphql-ws),
//! authenticated by the connection_init payload. The session is checked again before every
//! operation the client starts, before forwarding an event when the last check is older than
//! [`EVENT_RECHECK`], and every [`IDLE_RECHECK`]: after a logout, expiry, password change or a
//! change of role the socket is closed with 4401 and runs nothing more. Messages are capped at
//! [`crate::BODY_LIMIT`].

use crate::rest::limit::ClientAddr;
use crate::{AppState, BODY_LIMIT};
use async_graphql::http::{WebSocketProtocols, WsMessage, ALL_WEBSOCKET_PROTOCOLS};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use service::types::AuthUser;
use service::Service;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest gap between two checks of a socket with no traffic.
pub const IDLE_RECHECK: Duration = Duration::from_secs(5);
/// An event is forwarded only after a check at most this old.
pub const EVENT_RECHECK: Duration = Duration::from_secs(1);
/// The close code of a socket whose session ended (graphql-transport-ws "Unauthorized").
const SESSION_ENDED: u16 = 4401;

pub(crate) async fn handler(
    State(st): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|list| {
            list.split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        });
    let Some(protocol) = protocol else {
        let msg = "Sec-WebSocket-Protocol: use graphql-transport-ws or graphql-ws";
        return (StatusCode::BAD_REQUEST, msg).into_response();
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(BODY_LIMIT)
        .max_frame_size(BODY_LIMIT)
        .on_upgrade(move |socket| serve(st, addr, protocol, socket))
}

/// The authenticated session of one socket.
struct Session {
    service: Service,
    state: Mutex<Option<Authed>>,
}

struct Authed {
    token: String,
    user: AuthUser,
    checked: Instant,
}

impl Session {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Authed>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the session still stands as it was opened (same user, same role). A socket not
    /// yet initialised has nothing to check: async-graphql refuses its operations.
    async fn valid(&self, max_age: Duration) -> bool {
        let (token, user) = match self.lock().as_ref() {
            None => return true,
            Some(a) if a.checked.elapsed() < max_age => return true,
            Some(a) => (a.token.clone(), a.user.clone()),
        };
        let now = self.service.check_session(token).await;
        let ok = matches!(&now, Ok(Some(u)) if *u == user);
        if ok {
            if let Some(a) = self.lock().as_mut() {
                a.checked = Instant::now();
            }
        } else {
            tracing::info!(user = %user.email, "websocket session ended; closing the socket");
        }
        ok
    }
}

/// Whether a client message starts an operation.
fn starts_operation(data: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .is_some_and(|t| t == "subscribe" || t == "start")
}

/// Whether a server message carries an operation's result.
fn carries_data(text: &str) -> bool {
    text.starts_with(r#"{"type":"next""#) || text.starts_with(r#"{"type":"data""#)
}

async fn serve(st: AppState, addr: String, protocol: WebSocketProtocols, socket: WebSocket) {
    let session = Arc::new(Session {
        service: st.service.clone(),
        state: Mutex::new(None),
    });
    let (mut sink, stream) = socket.split();
    let checker = session.clone();
    // Incoming messages end at the first operation the session no longer allows.
    let input = stream
        .take_while(|m| std::future::ready(m.is_ok()))
        .filter_map(|m| {
            std::future::ready(match m {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m.into_data()),
                _ => None,
            })
        })
        .then(move |data| {
            let checker = checker.clone();
            async move {
                if starts_operation(&data) && !checker.valid(Duration::ZERO).await {
                    None
                } else {
                    Some(data)
                }
            }
        })
        .take_while(|d| std::future::ready(d.is_some()))
        .filter_map(std::future::ready);
    let init = session.clone();
    let login = graphql::LoginContext { client_addr: addr };
    let gql = async_graphql::http::WebSocket::new(st.schema.clone(), input, protocol)
        .on_connection_init(move |payload| async move {
            let token = graphql::connection_token(&payload).map_err(async_graphql::Error::new)?;
            let (_, user) = init
                .service
                .identify_token(&token)
                .await
                .map_err(|e| async_graphql::Error::new(e.to_string()))?;
            let user = user.ok_or_else(|| async_graphql::Error::new("invalid or expired token"))?;
            *init.lock() = Some(Authed {
                token,
                user: user.clone(),
                checked: Instant::now(),
            });
            Ok(graphql::connection_data(user, login))
        });
    let mut gql = Box::pin(gql);
    let mut idle = tokio::time::interval(IDLE_RECHECK);
    let ended = loop {
        tokio::select! {
            msg = gql.next() => match msg {
                Some(WsMessage::Text(text)) => {
                    if carries_data(&text) && !session.valid(EVENT_RECHECK).await {
                        break true;
                    }
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let frame = CloseFrame { code, reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
                // The input ended: the client left, or an operation was refused.
                None => break !session.valid(Duration::ZERO).await,
            },
            _ = idle.tick() => {
                if !session.valid(IDLE_RECHECK).await {
                    break true;
                }
            }
        }
    };
    if ended {
        let frame = CloseFrame {
            code: SESSION_ENDED,
            reason: "session ended: log in again".into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
}
