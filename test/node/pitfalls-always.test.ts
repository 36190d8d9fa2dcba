// The pitfall suite with the default settings: every save pushes, and a save whose checks predict
// harm is held. Each code must reach the editor here too.
import { pitfallSuite } from './pitfalls.suite';

pitfallSuite('always');
