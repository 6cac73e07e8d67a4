//! `/graphql/ws`: GraphQL subscriptions over websocket (graphql-ws and the older
//! graphql-transport-ws protocols), authenticated by the connection_init payload.

use crate::AppState;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;

pub(crate) async fn handler(
    State(st): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let store = st.store.clone();
            GraphQLWebSocket::new(socket, st.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    tokio::task::spawn_blocking(move || graphql::connection_data(&store, &payload))
                        .await
                        .map_err(|e| async_graphql::Error::new(e.to_string()))?
                        .map_err(async_graphql::Error::new)
                })
                .serve()
                .await
        })
}
