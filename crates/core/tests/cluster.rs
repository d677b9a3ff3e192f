//! The scale-out profile's core on a real 3-node JetStream cluster: a
//! `NATS_URL` listing every node, streams provisioned with the replica count
//! from config, and compare-and-set conflicts recognised in the form a
//! clustered stream reports them (error code 10164, not 10071).

use std::collections::HashMap;

use async_nats::jetstream::{self, kv};
use faultline_core::config::Config;
use faultline_core::metrics::Metrics;
use faultline_core::names::{Names, Namespace};
use faultline_core::nats::is_wrong_last_sequence;
use faultline_core::provision::{declared_streams, provision, Mode, Outcome};
use faultline_testkit::NatsCluster;

const ROUNDS: usize = 30;

fn config(pairs: &[(&str, &str)]) -> Result<Config, String> {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::load_with_env(None, &env).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_streams_from_config_on_a_node_list_and_cas_conflicts_in_the_clustered_form() {
    let cluster = NatsCluster::start(3).expect("nats-server cluster");
    let url = cluster.url();
    assert_eq!(url.split(',').count(), 3, "{url}");

    // Two replicas cannot form a quorum that survives a loss: refused.
    let err = config(&[("NATS_URL", &url), ("FAULTLINE_PROVISION__REPLICAS", "2")]).unwrap_err();
    assert!(err.contains("provision.replicas"), "{err}");

    let cfg = config(&[
        ("NATS_URL", &url),
        ("NATS_NAMESPACE", "scale"),
        ("FAULTLINE_PROVISION__REPLICAS", "3"),
    ])
    .unwrap();
    assert_eq!(cfg.provision.replicas, 3);
    let nats = faultline_core::nats::connect(&cfg.nats, "cluster-test", &Metrics::new())
        .await
        .expect("connect with the node list");
    let specs = declared_streams(
        &Names::new(Namespace::new(&cfg.namespace).unwrap()),
        &cfg.provision,
    )
    .unwrap();
    assert!(specs.iter().all(|s| s.replicas == 3));
    let report = provision(&nats.jetstream, &specs, Mode::Apply)
        .await
        .unwrap();
    assert!(
        report.streams.iter().all(|s| s.outcome == Outcome::Created),
        "{report}"
    );
    for spec in &specs {
        let info = nats
            .jetstream
            .get_stream(&spec.name)
            .await
            .unwrap()
            .get_info()
            .await
            .unwrap();
        assert_eq!(info.config.num_replicas, 3, "{}", spec.name);
        let followers = info.cluster.map_or(0, |c| c.replicas.len());
        assert_eq!(followers, 2, "{}: a leader and two followers", spec.name);
    }
    // A second run on the cluster changes nothing.
    let again = provision(&nats.jetstream, &specs, Mode::Check)
        .await
        .unwrap();
    assert!(
        again
            .streams
            .iter()
            .all(|s| s.outcome == Outcome::Unchanged),
        "{again}"
    );

    // A KV update at a stale revision on an R3 bucket: the server answers
    // 10164, which async-nats 0.51 does not classify as WrongLastRevision.
    let js: &jetstream::Context = &nats.jetstream;
    let bucket = js
        .create_key_value(kv::Config {
            bucket: "SCALE_CAS".into(),
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let rev = bucket.put("k", "a".into()).await.unwrap();
    bucket.update("k", "b".into(), rev).await.unwrap();
    let stale = bucket.update("k", "c".into(), rev).await.unwrap_err();
    assert!(is_wrong_last_sequence(&stale), "{stale}");

    // Two writers racing on one revision, as two dispatcher replicas do: one
    // wins; the loser's error, when the winner's write is still in flight in
    // the stream's Raft group, is the constant form 10164, which async-nats
    // 0.51 does not classify as WrongLastRevision.
    let (mut constant, mut classified) = (0, 0);
    for round in 0..ROUNDS {
        let key = format!("race.{round}");
        let rev = bucket.put(&key, "0".into()).await.unwrap();
        let (a, b) = tokio::join!(
            bucket.update(&key, "a".into(), rev),
            bucket.update(&key, "b".into(), rev)
        );
        let loser = match (a, b) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
            other => panic!("round {round}: exactly one writer wins: {other:?}"),
        };
        assert!(is_wrong_last_sequence(&loser), "round {round}: {loser}");
        if loser.kind() == kv::UpdateErrorKind::WrongLastRevision {
            classified += 1;
        } else {
            if constant == 0 {
                eprintln!("round {round}: kind {:?}: {loser}", loser.kind());
            }
            constant += 1;
        }
    }
    eprintln!("{ROUNDS} races on an R3 bucket: {classified} losers as WrongLastRevision, {constant} only by is_wrong_last_sequence");

    // The same for a publish expecting a subject to be empty.
    let first = jetstream::message::PublishMessage::build()
        .payload("one".into())
        .expected_last_subject_sequence(0);
    js.send_publish("scale.security.released.x", first.clone())
        .await
        .unwrap()
        .await
        .unwrap();
    let second = js
        .send_publish("scale.security.released.x", first)
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(is_wrong_last_sequence(&second), "{second}");
}
