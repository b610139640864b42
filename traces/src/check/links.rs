//! Which model link each of a trace's connection numbers is.
//!
//! A trace numbers connections once per run; the model names a link by its position among its
//! client's links, and positions shift when a finished link is removed. A binding is made when
//! the model opens a link and a `connection_opened` of the same node matches it, and follows the
//! link as positions shift.

use verimqtt_model::observe::LinkRef;
use verimqtt_spec::trace::ConnId;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Links {
    bound: Vec<(ConnId, LinkRef)>,
}

impl Links {
    fn link_of(&self, conn: ConnId) -> Option<LinkRef> {
        self.bound.iter().find(|(c, _)| *c == conn).map(|(_, link)| *link)
    }

    pub fn conn_of(&self, link: LinkRef) -> Option<ConnId> {
        self.bound.iter().find(|(_, l)| *l == link).map(|(c, _)| *c)
    }

    /// Whether `conn` is `link`.
    pub fn same(&self, conn: ConnId, link: LinkRef) -> bool {
        self.link_of(conn) == Some(link)
    }

    /// Binds `conn` to `link` when the link opens; false if either is already bound elsewhere.
    pub fn open(&mut self, conn: ConnId, link: LinkRef) -> bool {
        match (self.link_of(conn), self.conn_of(link)) {
            (None, None) => {
                self.bound.push((conn, link));
                true
            }
            (Some(bound), _) => bound == link,
            (None, Some(_)) => false,
        }
    }

    /// Follows a step that removed `removed` (positions before the step, increasing per client).
    pub fn remove(&mut self, removed: &[LinkRef]) {
        self.bound.retain(|(_, link)| !removed.contains(link));
        for (_, link) in &mut self.bound {
            let before = removed.iter().filter(|r| r.client == link.client && r.link < link.link).count();
            link.link -= before;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(client: usize, link: usize) -> LinkRef {
        LinkRef { client, link }
    }

    #[test]
    fn a_connection_is_bound_once_and_follows_its_link() {
        let mut links = Links::default();
        assert!(links.open(7, at(0, 0)));
        assert!(links.open(9, at(0, 1)));
        assert!(links.open(7, at(0, 0)), "the other end of the same connection");
        assert!(!links.open(8, at(0, 0)), "a link is one connection");
        links.remove(&[at(0, 0)]);
        assert!(links.same(9, at(0, 0)));
        assert!(!links.same(7, at(0, 0)));
    }
}
