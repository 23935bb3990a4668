//! The writer's group commit and the statement counter.
use super::split_page;

/// The counter sees every statement a write runs, the savepoint around it included.
#[test]
fn statements_are_counted_as_sqlite_runs_them() {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-store-count-{}-{}",
        std::process::id(),
        super::statements_run()
    ));
    let store = super::Store::open(&dir).expect("the store opens");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let before = super::statements_run();
    runtime
        .block_on(store.write(|t| {
            t.execute_batch(
                "CREATE TEMP TABLE counted (n INTEGER); INSERT INTO counted VALUES (1);",
            )?;
            Ok::<_, super::StoreError>(())
        }))
        .expect("the write commits");
    // SAVEPOINT, two statements, RELEASE, and the group's BEGIN and COMMIT; other tests
    // in this process may add theirs.
    assert!(super::statements_run() - before >= 6);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

/// A write without a savepoint that fails takes its whole group down with it, so its
/// half-done work is never committed; alone, or when it succeeds, it commits like any write.
#[test]
fn a_failed_shared_fate_write_rolls_back_its_whole_group() {
    use super::{Store, StoreError};
    let dir = std::env::temp_dir().join(format!(
        "switchboard-store-fate-{}-{}",
        std::process::id(),
        super::statements_run()
    ));
    let store = std::sync::Arc::new(Store::open(&dir).expect("the store opens"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("a runtime");
    let count = |store: &Store| {
        runtime.block_on(store.read(|c| {
            Ok::<i64, StoreError>(c.query_row("SELECT COUNT(*) FROM fate", [], |r| r.get(0))?)
        }))
    };
    runtime
        .block_on(store.write(|t| {
            t.execute_batch("CREATE TABLE fate (n INTEGER UNIQUE)")?;
            Ok::<_, StoreError>(())
        }))
        .expect("the table is made");

    // Hold the writer inside one write while two more queue behind it, so those two
    // share the next group commit.
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let s = store.clone();
    let blocker = runtime.spawn(async move {
        s.write(move |_t| {
            entered_tx.send(()).expect("the test waits");
            go_rx.recv().expect("the test releases the writer");
            Ok::<_, StoreError>(())
        })
        .await
    });
    entered_rx
        .recv()
        .expect("the writer entered the first write");
    let s = store.clone();
    let guarded = runtime.spawn(async move {
        s.write(|t| {
            t.execute("INSERT INTO fate (n) VALUES (1)", [])?;
            Ok::<_, StoreError>(())
        })
        .await
    });
    let s = store.clone();
    let doomed = runtime.spawn(async move {
        s.write_shared_fate(|t| {
            t.execute("INSERT INTO fate (n) VALUES (2)", [])?;
            // Halfway: the row above is written, then the write fails.
            t.execute("INSERT INTO fate (n) VALUES (2)", [])?;
            Ok::<_, StoreError>(())
        })
        .await
    });
    while store.writer.max_capacity() - store.writer.capacity() < 2 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    go_tx.send(()).expect("the writer waits");
    let results = runtime.block_on(async {
        (
            blocker.await.expect("joined"),
            guarded.await.expect("joined"),
            doomed.await.expect("joined"),
        )
    });
    let (blocker, guarded, doomed) = results;
    blocker.expect("the first group commits");
    assert!(
        doomed.as_ref().is_err_and(StoreError::is_unique_violation),
        "the failed write answers with its own error: {doomed:?}"
    );
    assert!(
        matches!(guarded, Err(StoreError::Commit(_))),
        "its group companion fails with it: {guarded:?}"
    );
    assert_eq!(
        count(&store).expect("counted"),
        0,
        "nothing of the group remains"
    );

    runtime
        .block_on(store.write_shared_fate(|t| {
            t.execute("INSERT INTO fate (n) VALUES (3)", [])?;
            Ok::<_, StoreError>(())
        }))
        .expect("a shared-fate write that succeeds commits");
    assert_eq!(count(&store).expect("counted"), 1);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_page_has_a_cursor_only_when_a_row_was_left_over() {
    let key = |n: &u32| n.to_string();
    assert_eq!(
        split_page(vec![1, 2, 3], 2, key),
        (vec![1, 2], Some("2".into()))
    );
    assert_eq!(split_page(vec![1, 2], 2, key), (vec![1, 2], None));
    assert_eq!(split_page(Vec::new(), 2, key), (Vec::new(), None));
}
