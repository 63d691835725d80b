//! The schemas this server publishes, as data: every attribute with its RFC 7643 characteristics (type,
//! mutability, returned, caseExact, ...), the User and Group resource types, and the attribute-path resolution
//! the filter evaluator, the PATCH engine and the projection share.
//!
//! Only attributes that really round-trip through `resource.rs` are defined here: `/Schemas` is built from
//! these tables, and clients (and scim2-tester) write every attribute it advertises and read it back.

/// The core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension URN.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// ScaiDrive's own User extension URN (role and quota).
pub const SCAIDRIVE_SCHEMA: &str = "urn:scaidrive:scim:User";

/// The SCIM data type of an attribute (RFC 7643 section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Integer,
    DateTime,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// Who may write an attribute (RFC 7643 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute appears in responses (RFC 7643 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

/// Whether the server enforces unique values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Server => "server",
        }
    }
}

/// One attribute definition. Built with the `const fn` helpers below so the tables read like the RFC.
#[derive(Debug, Clone, Copy)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub sub_attributes: &'static [AttrDef],
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub description: &'static str,
    /// Defined for resolution and output but left out of `/Schemas` (common attributes such as `id` and
    /// `meta`, which RFC 7643 section 3.1 keeps out of every schema).
    pub unpublished: bool,
}

impl AttrDef {
    pub const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            sub_attributes: &[],
            canonical_values: &[],
            reference_types: &[],
            description,
            unpublished: false,
        }
    }
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    const fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    const fn always(mut self) -> Self {
        self.returned = Returned::Always;
        self
    }
    const fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    const fn subs(mut self, subs: &'static [AttrDef]) -> Self {
        self.sub_attributes = subs;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    const fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }
    const fn unpublished(mut self) -> Self {
        self.unpublished = true;
        self
    }

    /// The sub-attribute with this name, compared case-insensitively (RFC 7643 section 2.1).
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether writes may name this attribute.
    pub fn writable(&self) -> bool {
        matches!(self.mutability, Mutability::ReadWrite | Mutability::WriteOnly | Mutability::Immutable)
    }
}

/// One schema: a URN and its attributes.
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

impl Schema {
    pub fn attr(&self, name: &str) -> Option<&'static AttrDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A resource type: its endpoint, core schema and extensions.
#[derive(Debug)]
pub struct ResourceType {
    pub id: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub core: &'static Schema,
    pub extensions: &'static [&'static Schema],
}

use AttrType::{Boolean, Complex, DateTime, Integer, Reference, String as Str};

/// `id`, `externalId` and `meta`: on every resource, in no published schema (RFC 7643 section 3.1).
const COMMON: &[AttrDef] = &[
    AttrDef::new("id", Str, "Unique identifier assigned by the service provider.")
        .case_exact()
        .read_only()
        .always()
        .unique()
        .unpublished(),
    AttrDef::new("externalId", Str, "Identifier assigned by the provisioning client.").case_exact().unpublished(),
    AttrDef::new("meta", Complex, "Resource metadata.").read_only().unpublished().subs(&[
        AttrDef::new("resourceType", Str, "The resource type name.").case_exact().read_only(),
        AttrDef::new("created", DateTime, "When the resource was created.").read_only(),
        AttrDef::new("lastModified", DateTime, "When the resource last changed.").read_only(),
        AttrDef::new("location", Reference, "The resource URI.").case_exact().read_only().refs(&["uri"]),
        AttrDef::new("version", Str, "The resource version (weak ETag).").case_exact().read_only(),
    ]),
];

const MULTI_SUBS_EMAIL: &[AttrDef] = &[
    AttrDef::new("value", Str, "The email address."),
    AttrDef::new("type", Str, "A label such as work or home."),
    AttrDef::new("primary", Boolean, "Whether this is the primary address."),
];

/// The core User schema, reduced to what ScaiDrive stores.
pub static USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: &[
        AttrDef::new("userName", Str, "Unique identifier for the user; the SSO subject.").required().unique(),
        AttrDef::new("name", Complex, "The components of the user's name.").subs(&[
            AttrDef::new("formatted", Str, "The full name, formatted for display."),
            AttrDef::new("familyName", Str, "The family name."),
            AttrDef::new("givenName", Str, "The given name."),
        ]),
        AttrDef::new("displayName", Str, "The name displayed to end users."),
        AttrDef::new("emails", Complex, "Email addresses of the user.").multi().subs(MULTI_SUBS_EMAIL),
        AttrDef::new("active", Boolean, "Whether the account may sign in; false suspends it."),
        AttrDef::new("groups", Complex, "Groups the user belongs to, derived from group membership.")
            .multi()
            .read_only()
            .subs(&[
                AttrDef::new("value", Str, "The group id.").case_exact().read_only(),
                AttrDef::new("$ref", Reference, "The group URI.").case_exact().read_only().refs(&["Group"]),
                AttrDef::new("display", Str, "The group's display name.").read_only(),
                AttrDef::new("type", Str, "direct or indirect membership.")
                    .read_only()
                    .canonical(&["direct", "indirect"]),
            ]),
    ],
};

/// The enterprise extension, reduced to department and manager.
pub static ENTERPRISE: Schema = Schema {
    id: ENTERPRISE_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        AttrDef::new("department", Str, "The user's department."),
        AttrDef::new("manager", Complex, "The user's manager.").subs(&[AttrDef::new(
            "value",
            Str,
            "The manager's identifier.",
        )
        .case_exact()]),
    ],
};

/// Roles the ScaiDrive extension accepts.
pub const ROLES: &[&str] = &["user", "admin", "superadmin"];

/// ScaiDrive's extension for what SCIM does not standardise.
pub static SCAIDRIVE: Schema = Schema {
    id: SCAIDRIVE_SCHEMA,
    name: "ScaiDriveUser",
    description: "ScaiDrive user settings",
    attributes: &[
        AttrDef::new("role", Str, "The user's ScaiDrive role: user, admin or superadmin.").canonical(ROLES),
        AttrDef::new("quota_bytes", Integer, "The user's storage quota in bytes."),
    ],
};

/// The core Group schema.
pub static GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: &[
        AttrDef::new("displayName", Str, "The group's name.").required().unique(),
        AttrDef::new("members", Complex, "The members of the group.").multi().subs(&[
            // Immutable as in RFC 7643 section 8.7.1: a member is added or removed, never edited. `$ref` is
            // accepted on input, but the server derives it from `value`.
            AttrDef::new("value", Str, "The member's id.").case_exact().immutable(),
            AttrDef::new("$ref", Reference, "The member's URI.").case_exact().immutable().refs(&["User", "Group"]),
            AttrDef::new("display", Str, "The member's display name.").read_only(),
            AttrDef::new("type", Str, "User or Group.").immutable().canonical(&["User", "Group"]),
        ]),
    ],
};

pub static USER_TYPE: ResourceType = ResourceType {
    id: "User",
    endpoint: "/Users",
    description: "User Account",
    core: &USER,
    extensions: &[&ENTERPRISE, &SCAIDRIVE],
};

pub static GROUP_TYPE: ResourceType =
    ResourceType { id: "Group", endpoint: "/Groups", description: "Group", core: &GROUP, extensions: &[] };

/// Every published schema, in `/Schemas` order.
pub static ALL_SCHEMAS: [&Schema; 4] = [&USER, &GROUP, &ENTERPRISE, &SCAIDRIVE];

/// Every resource type, in `/ResourceTypes` order.
pub static ALL_RESOURCE_TYPES: [&ResourceType; 2] = [&USER_TYPE, &GROUP_TYPE];

/// Where an attribute lives in a resource's JSON: at the top level, or inside an extension object keyed by URN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Core,
    Extension(&'static str),
}

/// An attribute name resolved against a resource type.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub container: Container,
    pub attr: &'static AttrDef,
    pub sub: Option<&'static AttrDef>,
}

impl Resolved {
    /// The definition the path finally points at (the sub-attribute if there is one).
    pub fn target(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }
}

impl ResourceType {
    /// Every schema URN this resource type knows, core first.
    pub fn schema_urns(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.core.id).chain(self.extensions.iter().map(|s| s.id))
    }

    /// The extension with this URN, compared case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions.iter().copied().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves `[urn:]attr[.sub]`. `urn` may be the core schema's URN (same as none) or an extension's. Names
    /// are case-insensitive. `None` when the schema does not define the attribute.
    pub fn resolve(&self, urn: Option<&str>, attr: &str, sub: Option<&str>) -> Option<Resolved> {
        let (container, def) = match urn {
            None => (Container::Core, self.core_attr(attr)?),
            Some(u) if u.eq_ignore_ascii_case(self.core.id) => (Container::Core, self.core_attr(attr)?),
            Some(u) => {
                let ext = self.extension(u)?;
                (Container::Extension(ext.id), ext.attr(attr)?)
            }
        };
        let sub = match sub {
            None => None,
            Some(s) => Some(def.sub(s)?),
        };
        Some(Resolved { container, attr: def, sub })
    }

    /// A core-schema or common attribute by name.
    fn core_attr(&self, name: &str) -> Option<&'static AttrDef> {
        self.core.attr(name).or_else(|| COMMON.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_resolve_case_insensitively() {
        let r = USER_TYPE.resolve(None, "USERNAME", None).expect("userName");
        assert_eq!(r.attr.name, "userName");
        assert!(!r.attr.case_exact);
        let r = USER_TYPE.resolve(None, "name", Some("GIVENNAME")).expect("name.givenName");
        assert_eq!(r.target().name, "givenName");
    }

    #[test]
    fn id_and_external_id_compare_exactly() {
        assert!(USER_TYPE.resolve(None, "id", None).expect("id").attr.case_exact);
        assert!(GROUP_TYPE.resolve(None, "externalId", None).expect("externalId").attr.case_exact);
    }

    #[test]
    fn extension_attributes_resolve_only_under_their_urn() {
        let r = USER_TYPE.resolve(Some(ENTERPRISE_SCHEMA), "department", None).expect("department");
        assert_eq!(r.container, Container::Extension(ENTERPRISE_SCHEMA));
        assert!(USER_TYPE.resolve(None, "department", None).is_none());
        let core = USER_TYPE.resolve(Some(USER_SCHEMA), "userName", None).expect("core urn");
        assert_eq!(core.container, Container::Core);
        assert!(GROUP_TYPE.resolve(Some(ENTERPRISE_SCHEMA), "department", None).is_none());
    }
}
