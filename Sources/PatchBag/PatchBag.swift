// PatchBag: see the module's other files.
