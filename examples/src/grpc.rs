//! The gRPC example service: the shop's users over tonic's generated
//! server, behind observe's tower layer on a hyper HTTP/2 server. observe
//! recognises the calls (`content-type: application/grpc`) and records
//! them as `rpc_server_duration_seconds` with the call's `grpc-status`,
//! read from the trailers (or the headers of a trailers-only answer).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use observe_core::Observe;
use observe_tower::ObserveLayer;
use observe_tower::server::Server;
use tonic::codegen::tokio_stream::Stream;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tower::ServiceBuilder;

use crate::shop::{self, Shop};

/// The code generated from `examples/proto/shop.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod proto {
    include!("grpc/shop.v1.rs");
}

use proto::users_server::{Users, UsersServer};
use proto::{GetUserRequest, ListUsersRequest, User};

/// The most users one `ListUsers` streams, and the longest pause.
const MAX_LISTED: u32 = 1000;
const MAX_INTERVAL_MS: u32 = 5000;

/// The `shop.v1.Users` service.
#[derive(Debug, Clone)]
pub struct UsersService {
    shop: Arc<Shop>,
}

impl UsersService {
    /// The users of `shop`.
    pub fn new(shop: Arc<Shop>) -> Self {
        Self { shop }
    }
}

#[tonic::async_trait]
impl Users for UsersService {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let id = request.into_inner().id;
        match id {
            503 => Err(Status::unavailable("the user service is draining")),
            666 => panic!("GetUser(666) panics on purpose"),
            id => match self.shop.find_user(id).await {
                Ok(user) => Ok(Response::new(User {
                    id: user.id,
                    name: user.name,
                })),
                Err(shop::LookupError::NotFound) => Err(Status::not_found("no such user")),
                Err(shop::LookupError::Database) => Err(Status::internal("the database failed")),
            },
        }
    }

    type ListUsersStream = Pin<Box<dyn Stream<Item = Result<User, Status>> + Send>>;

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<Self::ListUsersStream>, Status> {
        let ListUsersRequest { count, interval_ms } = request.into_inner();
        if count > MAX_LISTED || interval_ms > MAX_INTERVAL_MS {
            return Err(Status::invalid_argument(format!(
                "count is at most {MAX_LISTED}, interval_ms at most {MAX_INTERVAL_MS}"
            )));
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for id in 1..=u64::from(count) {
                let user = User {
                    id,
                    name: format!("user-{id}"),
                };
                // The client went away: stop producing.
                if sender.send(Ok(user)).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(u64::from(interval_ms))).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// Serves `shop.v1.Users` on `listener` over HTTP/2 until `shutdown`
/// completes, then lets each connection finish its calls.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    observe: Observe,
    shop: Arc<Shop>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // No router: gRPC calls are named by their path, `/package.Service/Method`.
    let service = ServiceBuilder::new()
        .layer(ObserveLayer::new(&observe))
        .service(UsersServer::new(UsersService::new(shop)));
    // observe's server: HTTP/2 (and HTTP/1.1 for probes) on one port,
    // accept errors retried, silent and idle clients cut off.
    let _ = Server::new()
        .serve(listener, move |_peer| service.clone(), shutdown)
        .await;
    Ok(())
}
