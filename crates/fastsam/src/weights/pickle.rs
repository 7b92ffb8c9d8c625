//! A pickle reader that walks the opcode stream as data: it never imports or calls anything.
