%% The values that travel between the upgrade runner (beam_live_upgrade), the sys sender
%% (beam_live_sys) and the keeper's downgrade (beam_live_keeper).

%% One process's suspend: when it was suspended (monotonic microseconds) or why not, and the
%% snapshot of its state asked for in the same round trip.
-record(suspension, {pid :: pid(),
                     result :: {ok, integer()} | {error, timeout | noproc | budget},
                     snapshot = nostate :: {state, term()} | nostate}).

%% One process's code_change: its result, how long it took, and whether the state came out the
%% same (read for a sample of the processes; see beam_live_sys).
-record(change, {pid :: pid(),
                 module :: module(),
                 result :: ok | {error, term()} | gone | not_called,
                 us = 0 :: non_neg_integer(),
                 same = true :: boolean() | unknown}).
