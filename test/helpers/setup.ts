/**
 * vitest setup: in CI the property tests run with a fixed seed (FC_SEED,
 * default 42), so a run is reproducible and never fails on a case no other
 * run can see; locally every run explores new cases.
 */
import fc from 'fast-check';

if (process.env.CI === 'true' || process.env.FC_SEED) fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 42) });
