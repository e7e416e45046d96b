"""The platform's callbacks as they arrive: wire structs, body layouts, encodings, decoders."""
