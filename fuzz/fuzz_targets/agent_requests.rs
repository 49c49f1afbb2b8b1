//! Any bytes a controller could send as a Prepare or Run request: the agent's validation accepts
//! or refuses them without panicking, and whatever it accepts can be run (the key sampler and the
//! dataset's size function work for it).
#![no_main]

use fetchbench_agent::keys::{KeyDist, KeySampler, TraceCursor};
use fetchbench_agent::plan::WorkloadPlan;
use fetchbench_proto as pb;
use fetchbench_proto::dataset::Generator;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(run) = pb::RunRequest::decode(data) {
        for workload in &run.workloads {
            if let Ok(plan) = WorkloadPlan::try_from(workload) {
                assert!(plan.concurrency >= 1);
                // A trace is read through its cursor, each record once, then never again.
                if let KeyDist::Trace(share) = &plan.keys {
                    let cursor = TraceCursor::new(share.clone());
                    let taken = std::iter::from_fn(|| cursor.take()).count();
                    assert_eq!(taken, share.index.len());
                    assert!(cursor.take().is_none());
                    continue;
                }
                for objects in [1, 7, 1_000] {
                    let mut sampler = KeySampler::new(&plan.keys, objects, 0, plan.concurrency as u64)
                        .expect("keys the plan accepted can be sampled");
                    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(plan.seed);
                    for _ in 0..16 {
                        assert!(sampler.next(&mut rng) < objects);
                    }
                }
            }
        }
    }
    if let Ok(prepare) = pb::PrepareRequest::decode(data)
        && let Some(d) = &prepare.dataset
        && let Ok(dataset) = Generator::from_proto(d)
    {
        let named = dataset.objects..dataset.total().min(dataset.objects.saturating_add(8));
        for i in (0..dataset.objects.min(8)).chain(named) {
            let size = dataset.size(i);
            assert!(size <= dataset.max_size(), "object {i}: {size} > {}", dataset.max_size());
        }
    }
});
