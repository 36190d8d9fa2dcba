// The pitfall suite with upgrade on save off: a save compiles and checks, and the tests upgrade when they choose.
import { pitfallSuite } from './pitfalls.suite';

pitfallSuite('never');
