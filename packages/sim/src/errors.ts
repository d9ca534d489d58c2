/** Errors of the simulation: bad input to a simulation, named by what was wrong. */
import { RingkvError, registerErrorClass } from '@ringkv/core';

/** The simulation cannot run on what it was given (unknown member, unsplittable table, bad size). */
export class SimulationError extends RingkvError {}

registerErrorClass(SimulationError);
