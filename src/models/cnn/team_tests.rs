use super::*;
use std::sync::atomic::AtomicU32;

/// `for_each(n)` under the current setting: how often each index ran.
fn counts(n: usize) -> Vec<u32> {
    let hits: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
    for_each(n, |k| {
        hits[k].fetch_add(1, SeqCst);
    });
    hits.into_iter().map(AtomicU32::into_inner).collect()
}

#[test]
fn every_item_runs_once_with_and_without_a_team() {
    let sizes = [0, 1, 2, 3, 7, 64, 1000];
    for &n in &sizes {
        assert_eq!(counts(n), vec![1; n], "no team, {n} items");
    }
    // Many short layers in a row: the helpers see epochs go by faster than they poll.
    with_helpers(2, || {
        for round in 0..2000 {
            let n = sizes[round % sizes.len()];
            assert_eq!(counts(n), vec![1; n], "team, layer {round}, {n} items");
        }
    });
    assert!(!active(), "the team ends with its closure");
}

#[test]
fn results_do_not_depend_on_who_computes_them() {
    let value = |k: usize| (k as f32).sqrt() * 1.000_1f32.powi(k as i32);
    let run = || {
        let out: Vec<AtomicU32> = (0..5000).map(|_| AtomicU32::new(0)).collect();
        for_each(out.len(), |k| out[k].store(value(k).to_bits(), SeqCst));
        out.into_iter()
            .map(AtomicU32::into_inner)
            .collect::<Vec<_>>()
    };
    let alone = run();
    assert_eq!(with_helpers(2, run), alone);
}

#[test]
fn state_is_made_at_most_once_per_participant_and_layer() {
    with_helpers(2, || {
        for _ in 0..200 {
            let inits = AtomicUsize::new(0);
            let sum = AtomicUsize::new(0);
            for_each_init(
                100,
                || {
                    inits.fetch_add(1, SeqCst);
                    0usize
                },
                |seen, k| {
                    *seen += 1;
                    sum.fetch_add(k, SeqCst);
                },
            );
            assert_eq!(sum.into_inner(), 4950);
            assert!(inits.into_inner() <= 3, "the caller and two helpers");
        }
    });
}

#[test]
fn teams_nest_and_ordinary_rayon_loops_inside_them_finish() {
    with_helpers(2, || {
        assert!(active());
        // A loop the team does not route goes to rayon's pool, whose other threads are the
        // spinning helpers: they must run it rather than wait.
        let total: u64 = (0..100_000u64).into_par_iter().sum();
        assert_eq!(total, 4_999_950_000);
        // A nested team is the same team.
        with_helpers(2, || assert_eq!(counts(50), vec![1; 50]));
        // Loops inside items: serial on the caller (its team is busy), rayon's on helpers.
        for_each(8, |_| assert_eq!(counts(30), vec![1; 30]));
    });
}

#[test]
fn a_panicking_item_ends_the_layer_and_the_team_cleanly() {
    let caught = std::panic::catch_unwind(|| {
        with_helpers(2, || {
            for_each(64, |k| {
                // Raised on whichever thread takes item 5, and re-raised on the caller.
                if k == 5 {
                    panic!("item {k} failed");
                }
            })
        })
    });
    assert!(caught.is_err());
    assert!(!active());
    assert_eq!(with_helpers(2, || counts(300)), vec![1; 300]);
}

#[test]
fn a_folded_resnet_gives_the_same_bits_with_and_without_a_team() {
    use crate::models::cnn::layers::ClassifierNet;
    use crate::models::cnn::resnet::{ResNet, ResNetConfig, ResNetDepth};
    use crate::models::cnn::store::seeded_varmap;
    use candle_core::{Device, Tensor};
    let (_map, vb) = seeded_varmap(7);
    let mut cfg = ResNetConfig::torchvision(ResNetDepth::R18, 1, 2);
    cfg.base_width = 16;
    let mut net = ResNet::new(&cfg, None, vb).unwrap();
    net.fold_batch_norm().unwrap();
    let values: Vec<f32> = (0..3 * 48 * 40)
        .map(|k| ((k * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let xs = Tensor::from_vec(values, (3, 1, 48, 40), &Device::Cpu).unwrap();
    let bits = |t: Tensor| -> Vec<u32> {
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        v.into_iter().map(f32::to_bits).collect()
    };
    // Without: inside a one-thread pool, where no team forms.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let alone = pool.install(|| bits(net.features_t(&xs, false).unwrap()));
    // With: a team of three splits every layer, batch 1 included (the network's own call
    // joins the team formed here).
    let teamed = with_helpers(2, || bits(net.features_t(&xs, false).unwrap()));
    assert_eq!(teamed, alone);
    let one = xs.narrow(0, 1, 1).unwrap();
    let alone_1 = pool.install(|| bits(net.features_t(&one, false).unwrap()));
    let teamed_1 = with_helpers(2, || bits(net.features_t(&one, false).unwrap()));
    assert_eq!(teamed_1, alone_1);
    assert_eq!(&alone[alone.len() / 3..2 * alone.len() / 3], &alone_1[..]);
}
