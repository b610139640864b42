//! The shared vocabulary of verimqtt: the catalogue of normative statements of MQTT 3.1.1 and
//! MQTT 5.0 ([`catalogue()`]), and the observable events that the model, the implementation and
//! the trace checker all speak ([`trace`]).

pub mod catalogue;
pub mod citations;
pub mod trace;

pub use catalogue::{
    Binds, Catalogue, CatalogueError, Level, SpecVersion, Statement, StatementId, catalogue, parse_statement_id,
};
