"""The synthetic training corpus: procedural MIDI with known labels, captions, FluidSynth renders."""
