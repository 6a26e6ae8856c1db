//! The mail corpus (`crates/server/tests/mail/`: hard real-world messages) and malformed mail
//! made from it — cut short anywhere, boundaries broken, bytes flipped, encodings lied about,
//! headers repeated by the thousand, parts nested hundreds deep.

/// A small deterministic generator (xorshift), so a failing case can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// The corpus, in file-name order.
pub fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/mail");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// One malformed variant of `base`.
pub fn mutate(base: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut m = base.to_vec();
    match rng.below(7) {
        0 => m.truncate(rng.below(m.len() + 1)),
        1 => {
            for _ in 0..1 + rng.below(20) {
                let i = rng.below(m.len());
                if let Some(b) = m.get_mut(i) {
                    *b = rng.next_u64() as u8;
                }
            }
        }
        2 => {
            let text = String::from_utf8_lossy(&m).replace("boundary=\"", "boundary=\"x").replace("\r\n--", "\r\n-");
            m = text.into_bytes();
        }
        3 => {
            let text = String::from_utf8_lossy(&m)
                .replace("charset=", "charset=x-unknown-")
                .replace("base64", "quoted-printable")
                .replace("?B?", "?Q?");
            m = text.into_bytes();
        }
        4 => {
            let mut bomb = Vec::new();
            for i in 0..2000 + rng.below(3000) {
                bomb.extend_from_slice(format!("X-Bomb-{i}: =?UTF-8?B?{}?=\r\n", "A".repeat(rng.below(50))).as_bytes());
            }
            bomb.extend_from_slice(&m);
            m = bomb;
        }
        5 => {
            let nested = b"Content-Type: multipart/mixed; boundary=\"n\"\r\n\r\n--n\r\n".repeat(200 + rng.below(300));
            let at = rng.below(m.len());
            m.splice(at..at, nested);
        }
        _ => {
            let at = rng.below(m.len());
            m.splice(at..at, (0..rng.below(300)).map(|_| rng.next_u64() as u8));
        }
    }
    m
}
