// Tiler: see the module's other files.
