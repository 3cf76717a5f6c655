// SlideSynth: see the module's other files.
