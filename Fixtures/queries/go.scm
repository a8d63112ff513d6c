; tags.scm's idiom: a quantified leading sibling and an anchor (issue 14), and its neighbours
((comment)* @doc . (function_declaration name: (identifier) @name) @definition.function)
((comment)* @doc (function_declaration name: (identifier) @name) @definition.function)
((comment)+ @doc . (function_declaration name: (identifier) @name))
((comment)? @doc . (method_declaration name: (field_identifier) @name))
((comment)* @doc . (type_declaration) @type)
((comment)+ @doc (type_declaration) @type)
