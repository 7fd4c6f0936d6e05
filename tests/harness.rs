//! Self-test of the harness: two servers at once, each reachable and independent.

mod support;

use futures::StreamExt;
use support::nats::NatsServer;

#[tokio::test]
async fn two_servers_run_side_by_side_and_each_accepts_jetstream_publishes() {
    let first = NatsServer::start();
    let second = NatsServer::start();
    assert_ne!(first.port(), second.port());
    assert_ne!(first.store_dir(), second.store_dir());
    for server in [&first, &second] {
        let client = async_nats::connect(server.url()).await.unwrap();
        let jetstream = async_nats::jetstream::new(client.clone());
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: "HARNESS".to_owned(),
                subjects: vec!["harness.>".to_owned()],
                ..Default::default()
            })
            .await
            .unwrap();
        let ack = jetstream
            .publish("harness.one", format!("to {}", server.port()).into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, 1);
        let mut subscriber = client.subscribe("plain").await.unwrap();
        client.publish("plain", "hello".into()).await.unwrap();
        assert_eq!(subscriber.next().await.unwrap().payload, "hello");
    }
}

#[tokio::test]
async fn a_killed_server_restarts_with_its_data() {
    let mut server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: "KEEP".to_owned(),
            subjects: vec!["keep.>".to_owned()],
            ..Default::default()
        })
        .await
        .unwrap();
    jetstream
        .publish("keep.a", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    server.restart();
    let client = async_nats::connect(server.url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream.get_stream("KEEP").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
}
