package gongsim

// Word lists for generated people, companies and transcript text. They are
// invented and small, because the generator only needs variety, not realism
// at the level of individual sentences.

var firstNames = []string{
	"Avery", "Blake", "Casey", "Dana", "Elliot", "Finley", "Gray", "Harper", "Indigo", "Jordan",
	"Kai", "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Taylor",
	"Umar", "Val", "Wren", "Xiomara", "Yuki", "Zion", "Amara", "Bruno", "Chiara", "Dmitri",
	"Esme", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Keiko", "Lars", "Mina", "Nikhil",
}

var lastNames = []string{
	"Abbott", "Baptiste", "Castillo", "Dubois", "Eriksen", "Fontaine", "Garcia", "Haddad", "Ivanova", "Jensen",
	"Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero", "Rossi", "Schmidt", "Tanaka",
	"Ueda", "Varga", "Whitfield", "Xu", "Yilmaz", "Zhang", "Almeida", "Brennan", "Costa", "Delgado",
}

var jobTitles = []string{
	"Account Executive", "Sales Development Rep", "Solutions Engineer", "Customer Success Manager",
	"Sales Manager", "VP Sales", "Head of Partnerships", "Renewals Manager",
}

var buyerTitles = []string{
	"VP Operations", "Director of IT", "Procurement Lead", "CFO", "Head of Revenue Operations",
	"Engineering Manager", "Chief of Staff", "Security Analyst", "Product Owner",
}

var accountWords = []string{
	"Acme", "Northwind", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell",
	"Cyberdyne", "Soylent", "Wonka", "Gringotts", "Oscorp", "Monarch", "Pied Piper", "Aperture", "Black Mesa", "Dunder",
}

var accountSuffixes = []string{"Corp", "Labs", "Group", "Systems", "Holdings", "Logistics", "Health", "Foods"}

var industries = []string{"Manufacturing", "Healthcare", "Retail", "Software", "Logistics", "Finance", "Education"}

var callPurposes = []string{
	"Discovery", "Demo", "Pricing review", "Security review", "Kickoff", "QBR", "Negotiation", "Renewal", "Check-in",
}

var topicNames = []string{
	"Call Setup", "Small Talk", "Discovery", "Product Demo", "Pricing", "Security", "Implementation", "Next Steps", "Wrap-up",
}

var stageNames = []string{"Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"}

var hubspotStages = []string{"appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent", "closedwon"}

var vocabulary = []string{
	"we", "you", "they", "the", "a", "our", "your", "team", "plan", "pricing", "contract", "renewal", "budget",
	"quarter", "timeline", "security", "review", "integration", "data", "migration", "rollout", "users", "license",
	"seats", "discount", "term", "support", "onboarding", "training", "workflow", "dashboard", "report", "pipeline",
	"forecast", "deal", "stakeholder", "approval", "legal", "procurement", "invoice", "trial", "pilot", "feedback",
	"question", "answer", "next", "step", "meeting", "week", "month", "today", "tomorrow", "already", "still", "maybe",
	"definitely", "probably", "think", "need", "want", "can", "will", "should", "would", "could", "send", "share",
	"schedule", "confirm", "compare", "evaluate", "decide", "sign", "start", "finish", "check", "update", "follow",
	"up", "with", "for", "on", "in", "about", "from", "to", "and", "but", "so", "because", "if", "that", "this",
	"it", "is", "are", "was", "be", "have", "has", "do", "does", "not", "really", "great", "good", "fine", "right",
	"okay", "yes", "no", "sure", "exactly", "important", "current", "new", "existing", "whole", "other", "same",
}
