pub mod oracles;
